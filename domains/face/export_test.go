package face

// Padded exposes padded to the tests.
var Padded = padded
