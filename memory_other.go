//go:build !linux

package main

// dropStartupPages is Linux-only.
func dropStartupPages() {}
