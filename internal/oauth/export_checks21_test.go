package oauth

// KnownBrowserKey is knownBrowserKey, for the tests of package oauth_test.
var KnownBrowserKey = knownBrowserKey
