package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCloudSDKs keeps the cloud SDK trees out of the binary: go-getter v1
// pulled in Google Cloud Storage, gRPC and OpenTelemetry for one s3://
// getter, and they made up two thirds of the binary.
func TestNoCloudSDKs(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"cloud.google.com/", "google.golang.org/grpc", "go.opentelemetry.io/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("cmd/compose depends on %s (banned: %s…)", pkg, banned)
			}
		}
	}
}
