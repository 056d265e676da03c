//go:build !linux

package server

// dropStartupPages is Linux-only.
func dropStartupPages() {}
