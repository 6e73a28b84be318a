package framework

import "os"

// The environment a run reads. Unset means the default.
const (
	EnvBroker       = "MQTT_BROKER"           // broker URL: tcp://, ssl://, ws://, wss://; unset or "embedded": the in-process broker
	EnvUsername     = "MQTT_USERNAME"         // credentials sent on every CONNECT
	EnvPassword     = "MQTT_PASSWORD"         //
	EnvCAFile       = "MQTT_CA_FILE"          // PEM CA that signs the broker's certificate (ssl://, wss://)
	EnvClientCert   = "MQTT_CLIENT_CERT"      // PEM client certificate for mutual TLS
	EnvClientKey    = "MQTT_CLIENT_KEY"       // its key
	EnvToxiproxy    = "TOXIPROXY_URL"         // use this Toxiproxy server instead of the embedded one
	EnvBrokerName   = "FAULTLINE_BROKER_NAME" // the broker's name in reports (default: "embedded" or host:port)
	EnvDefect       = "FAULTLINE_DEFECT"      // self-test: run against the faulty-broker fixture with this defect
	EnvReportDir    = "FAULTLINE_REPORT_DIR"  // where junit.xml and summary.txt go (unset: no files)
	EnvTopicPrefix  = "FAULTLINE_PREFIX"      // first topic level of everything a run publishes (default "faultline")
	EnvBrokerLogOut = "FAULTLINE_BROKER_LOG"  // embedded broker: "1" shows its warnings in the spec timeline
	EnvTrace        = "FAULTLINE_TRACE"       // "1": every spec's wire trace in the console and JUnit, also when it passed
	// FAULTLINE_ACK_TIMEOUT (EnvAckTimeout, stall.go) bounds each wait for
	// a broker's answer: 5s, or 15s in public mode.
)

// Other endpoints of the same broker (transports.go). Unset: the specs
// that need one report "not supported".
const (
	EnvBrokerTLS     = "MQTT_BROKER_TLS"     // ssl:// server certificate signed by MQTT_CA_FILE, no client certificate
	EnvBrokerMTLS    = "MQTT_BROKER_MTLS"    // ssl:// client certificate (MQTT_CLIENT_CERT/KEY) required
	EnvBrokerWS      = "MQTT_BROKER_WS"      // ws://host:port/path
	EnvBrokerWSS     = "MQTT_BROKER_WSS"     // wss://host:port/path
	EnvAuthBroker    = "MQTT_AUTH_BROKER"    // refuses wrong credentials (and missing ones, unless MQTT_AUTH_ANONYMOUS=1)
	EnvAuthUsername  = "MQTT_AUTH_USERNAME"  // the credentials it accepts
	EnvAuthPassword  = "MQTT_AUTH_PASSWORD"  //
	EnvAuthAnonymous = "MQTT_AUTH_ANONYMOUS" // "1": MQTT_AUTH_BROKER lets clients without credentials in
)

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
