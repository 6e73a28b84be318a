// Package proxy is the fault-injecting link between an MQTT client and the
// broker under test. It is the only package that knows Toxiproxy.
//
// Every client of every spec gets its own Link: its own Toxiproxy proxy,
// so a fault on one client's link touches nothing else.
//
//	embedded: client ──tcp──▶ Toxiproxy link (toxics, the MQTT tap) ──tcp|tls|ws|wss──▶ broker
//	external: client ──tcp──▶ Toxiproxy server (toxics) ──tcp──▶ gateway (the MQTT tap) ──tcp|tls|ws|wss──▶ broker
//
// Either way Faultline owns the broker-side socket: it dials the broker
// over the target's transport, so the toxics and the tap always see plain
// MQTT bytes, and a reset reaches the broker as a real TCP RST (Toxiproxy
// can only send one from sockets accepted while a reset_peer toxic was
// present). The embedded backend owns the client-side socket too.
//
// Toxiproxy runs in-process by default (Embedded); an existing Toxiproxy
// server can be used through its HTTP API instead (External).
package proxy
