package liveplugin

// EndMessage is the text message a publisher sends to end its broadcast,
// encoded from protocol.go, for the tests of package liveplugin_test.
var EndMessage = encodeEvent(newEndRequest())
