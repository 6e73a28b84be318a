// Package framework is what Faultline's specs stand on: the broker under
// test, one proxied link per client, MQTT clients that record what they
// did and saw, unique client ids and topics, the wire trace attached to
// every failure, and the statement labels that tie a spec to the MQTT
// specification. Specs hold the guarantee; the plumbing lives here.
package framework
