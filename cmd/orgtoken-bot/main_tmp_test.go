package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestTmpSandbox(t *testing.T) {
	script := os.Getenv("SANDBOX_SCRIPT")
	if script == "" {
		t.Skip()
	}
	if err := runSandbox(context.Background(), strings.NewReader(script), os.Stdout, sandboxOptions{}); err != nil {
		t.Fatal(err)
	}
}
