package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
)

// Frozen mode (--frozen or COMPOSE_FROZEN=1) is for CI: compose never
// writes or changes a lock. "compose lock" is refused, and a verb that
// would write a missing lock (apply, test) fails instead; validate fails
// where it would only warn that the lock no longer matches.
var errFrozen = errors.New("frozen")

// frozenEnv is the variable that turns frozen mode on without the flag.
const frozenEnv = "COMPOSE_FROZEN"

// lockWriters are the verbs whose purpose is to write the lock.
var lockWriters = map[string]bool{"lock": true}

// frozenOn reports whether --frozen or COMPOSE_FROZEN asks for frozen
// mode: the variable counts when set to anything but "", "0" or "false".
func (a *app) frozenOn() bool {
	if a.frozen {
		return true
	}
	v := strings.ToLower(strings.TrimSpace(os.Getenv(frozenEnv)))
	return v != "" && v != "0" && v != "false"
}

// refuseFrozen refuses a verb that writes the lock, before it runs.
func (a *app) refuseFrozen(cmd *cobra.Command) error {
	if a.frozenOn() && lockWriters[cmd.Name()] {
		return frozenError{fmt.Errorf("compose %s writes the lock, and frozen mode (--frozen or %s) refuses to", cmd.Name(), frozenEnv)}
	}
	return nil
}

// checkFrozen fails, in frozen mode, for a kit whose lock is missing or
// no longer matches its manifest.
func (a *app) checkFrozen(k *compose.Kit) error {
	if !a.frozenOn() {
		return nil
	}
	status, err := k.LockStatus()
	switch status {
	case compose.LockCurrent:
		return nil
	case compose.LockAbsent:
		return frozenError{fmt.Errorf("%s: no lock file, and frozen mode (--frozen or %s) does not write one", filepath.Base(k.LockPath()), frozenEnv)}
	case compose.LockStale:
		return frozenError{fmt.Errorf("frozen mode (--frozen or %s): %w", frozenEnv, err)}
	}
	return err
}

// frozenError is an error of frozen mode: exit 3, as for a lock that
// does not match its manifest.
type frozenError struct{ error }

func (e frozenError) Unwrap() error { return e.error }

// Is makes errors.Is(err, errFrozen) true.
func (e frozenError) Is(target error) bool { return target == errFrozen }
