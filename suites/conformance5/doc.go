// Package conformance5 holds the MQTT 5.0 conformance specs: each checks
// promises of the 5.0 standard, names them with framework.Statements5
// (which also labels it v5), and names the defect of the faulty-broker
// fixture that turns it red. The clients are framework.Client5, MQTT 5.0
// session clients on Faultline's own codec, each on its own link.
package conformance5
