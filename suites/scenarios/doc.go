// Package scenarios holds the connectivity questions of an IoT course as
// named scenarios a student can run alone (make scenario NAME=...). Each
// checks what MQTT promises and ends with a plain-language account of what
// happened on the wire and why.
package scenarios
