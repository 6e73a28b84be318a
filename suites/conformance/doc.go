// Package conformance holds Faultline's specs: each reads as a promise the
// MQTT 3.1.1 specification makes about brokers and carries the ids of the
// normative statements it checks. One file per area.
package conformance
