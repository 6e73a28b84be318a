// Package scenarios holds the connectivity questions of an IoT course as
// named scenarios a student can run alone (make scenario NAME=...). Each
// checks what MQTT promises and ends with a plain-language account of what
// happened on the wire and why.
package scenarios

// With CLIENT set (make scenario CLIENT='python3 my_client.py'), the
// scenarios that make sense for a client run the student's program
// instead of Faultline's own client: suites/clientspecs/scenarios.go.
