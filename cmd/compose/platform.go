package main

import (
	"errors"
	"fmt"
	"runtime"
)

// errLinuxOnly is matched by every refusal of a Linux-only feature
// (device access through sysfs and O_DIRECT, QEMU boot tests with KVM) on
// another system, where compose still builds images.
var errLinuxOnly = errors.New("works only on Linux")

// linuxOnly refuses what on this system, before anything is loaded or
// fetched.
func linuxOnly(what string) error { return linuxOnlyOn(runtime.GOOS, runtime.GOARCH, what) }

func linuxOnlyOn(goos, goarch, what string) error {
	if goos == "linux" {
		return nil
	}
	return fmt.Errorf("%s %w (this is %s/%s): here compose builds images with apply --image, plan, validate, inspect, lock and fetch", what, errLinuxOnly, goos, goarch)
}
