// The synthetic bundles (FuseRankSynthetic) are part of what the tests share: every test that
// imports the test support gets them too.
@_exported import FuseRankSynthetic
