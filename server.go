// Command loginsign is a privacy-first OAuth 2.0 / OpenID Connect identity provider.
//
//	loginsign [serve]                 run the server (default)
//	loginsign migrate                 apply the schema and exit
//	loginsign apps create --owner EMAIL --name NAME --redirect-uri URI … [--webhook-url URL] [--json]
//	loginsign users create --email EMAIL [--name NAME] [--json]
//	loginsign keys rotate             publish new signing keys now
//
// Configuration comes from the environment (see server.Config); serve's flags override it. The
// wiring lives in internal/server; this file is only the program's entry point.
package main

import (
	"context"
	"fmt"
	"os"

	"loginsign/internal/server"
)

func main() {
	if err := server.Run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loginsign:", err)
		os.Exit(1)
	}
}
