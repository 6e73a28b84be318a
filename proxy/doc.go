// Package proxy is the fault-injecting link between an MQTT client and the
// broker under test. It is the only package that knows Toxiproxy.
//
// Every client of every spec gets its own Link: its own Toxiproxy proxy and
// its own gateway to the broker, so a fault on one client's link touches
// nothing else.
//
//	client ──tcp──▶ Toxiproxy proxy ──tcp──▶ gateway ──tcp|tls|ws|wss──▶ broker
//	                 (toxics)                 (owns the broker-side socket)
//
// The Toxiproxy proxy carries the toxics (latency, bandwidth, slicer,
// limit_data, timeout). The gateway dials the broker over the target's
// transport, so toxics always see plain MQTT bytes whatever the transport,
// and it owns the broker-side socket, so a reset reaches the broker as a
// real TCP RST (Toxiproxy can only send one from sockets accepted while a
// reset_peer toxic was present).
//
// Toxiproxy runs in-process by default (Embedded); an existing Toxiproxy
// server can be used through its HTTP API instead (External).
package proxy
