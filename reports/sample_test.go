package reports

import (
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// sampleTrace is a QoS 1 handshake whose publisher's link is cut inside
// the PUBLISH, then a reconnect and a resend: every kind of step.
func sampleTrace() TraceData {
	return TraceData{Steps: []Step{
		{T: 0.001, Link: "pub", Conn: 1, Kind: StepPassed, Packet: "CONNECT", Size: 27, Text: `CONNECT v4 "flpub1" ka=30s`},
		{T: 0.002, Link: "pub", Conn: 1, FromBroker: true, Kind: StepPassed, Packet: "CONNACK", Size: 4, Text: "CONNACK sp=0 rc=0x00 (Accepted)"},
		{T: 0.003, Link: "sub", Conn: 1, Kind: StepPassed, Packet: "CONNECT", Size: 27, Text: `CONNECT v4 "flsub1" ka=30s`},
		{T: 0.004, Link: "sub", Conn: 1, FromBroker: true, Kind: StepPassed, Packet: "CONNACK", Size: 4, Text: "CONNACK sp=0 rc=0x00 (Accepted)"},
		{T: 0.005, Link: "sub", Conn: 1, Kind: StepPassed, Packet: "SUBSCRIBE", ID: 1, QoS: 1, Topic: "faultline/ab/s1/t", Size: 24, Text: `SUBSCRIBE id=1 ["faultline/ab/s1/t" q1]`},
		{T: 0.006, Link: "sub", Conn: 1, FromBroker: true, Kind: StepPassed, Packet: "SUBACK", ID: 1, Size: 5, Text: "SUBACK id=1 [0x01]"},
		{T: 0.010, Link: "pub", Conn: 1, Kind: StepFault, Note: "cut the link with a RST after 5 bytes of the next PUBLISH to broker"},
		{T: 0.011, Link: "pub", Conn: 1, Kind: StepPartial, Packet: "PUBLISH", ID: 7, QoS: 1, Topic: "faultline/ab/s1/t", Payload: "m-0001", Size: 31, Bytes: 5, Text: `PUBLISH id=7 q1 "faultline/ab/s1/t" 6B "m-0001"`},
		{T: 0.011, Link: "pub", Conn: 1, Kind: StepDropped, Bytes: 26, Note: "after the cut"},
		{T: 0.012, Link: "pub", Conn: 1, Kind: StepEvent, Note: "broker closed the connection"},
		{T: 0.820, Link: "pub", Conn: 2, Kind: StepPassed, Packet: "CONNECT", Size: 27, Text: `CONNECT v4 "flpub1" ka=30s`},
		{T: 0.821, Link: "pub", Conn: 2, FromBroker: true, Kind: StepPassed, Packet: "CONNACK", Size: 4, Text: "CONNACK sp=1 rc=0x00 (Accepted)"},
		{T: 0.822, Link: "pub", Conn: 2, Kind: StepPassed, Packet: "PUBLISH", ID: 7, QoS: 1, DUP: true, Topic: "faultline/ab/s1/t", Payload: "m-0001", Size: 31, Text: `PUBLISH id=7 q1 dup "faultline/ab/s1/t" 6B "m-0001"`},
		{T: 0.823, Link: "pub", Conn: 2, FromBroker: true, Kind: StepPassed, Packet: "PUBACK", ID: 7, Size: 4, Text: "PUBACK id=7"},
		{T: 0.824, Link: "sub", Conn: 1, FromBroker: true, Kind: StepPassed, Packet: "PUBLISH", ID: 1, QoS: 1, Retain: true, Topic: "faultline/ab/s1/t", Payload: "<script>alert(1)</script>", Size: 50, Text: `PUBLISH id=1 q1 retain "faultline/ab/s1/t" 25B "<script>alert(1)</script>"`},
		{T: 0.825, Link: "sub", Conn: 1, Kind: StepPassed, Packet: "PUBACK", ID: 1, Size: 4, Text: "PUBACK id=1"},
		{T: 0.900, Link: "sub", Conn: 1, Kind: StepFault, Note: "blackhole to broker"},
		{T: 0.901, Link: "sub", Conn: 1, Kind: StepDropped, Packet: "PINGREQ", Size: 2, Text: "PINGREQ", Note: "blackhole"},
	}}
}

func sampleSpec(container, label, text string, state types.SpecState, msg string, labels []string, entries ...types.ReportEntry) types.SpecReport {
	return types.SpecReport{
		LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{container},
		ContainerHierarchyLabels: [][]string{{label}}, LeafNodeText: text, LeafNodeLabels: labels,
		State: state, Failure: types.Failure{Message: msg}, RunTime: 1500 * time.Millisecond, NumAttempts: 1,
		ReportEntries: entries,
	}
}

func traceEntry(d TraceData) types.ReportEntry {
	return types.ReportEntry{Name: TraceDataEntry, Value: types.WrapEntryValue(d)}
}

func textEntry(name, value string) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(value)}
}

// sampleReport is a run with a pass, a failure with a trace, a known
// deviation, a feature not supported, keepalive measurements and a chaos
// timeline.
func sampleReport() types.Report {
	chaos := ChaosTimeline{Seed: 42, Bucket: 0.5, Published: []int{40, 38, 12, 41, 39, 40}, Acked: []int{40, 30, 5, 41, 39, 40},
		Delivered: []int{38, 36, 10, 44, 39, 40}, Faults: []FaultWindow{
			{Link: "p1", Kind: "reset", From: 0.6, To: 0.6}, {Link: "s2", Kind: "blackhole", From: 1.0, To: 1.6},
			{Link: "p1", Kind: "latency", From: 2.0, To: 2.4}}}
	return types.Report{
		SuiteDescription: "faultline.sample",
		StartTime:        time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC),
		RunTime:          95 * time.Second,
		SuiteConfig:      types.SuiteConfig{RandomSeed: 1234, ParallelTotal: 4},
		SpecReports: types.SpecReports{
			sampleSpec("QoS delivery", "qos", "delivers a QoS 1 message at least once", types.SpecStatePassed, "", []string{"spec:MQTT-4.3.2-1"}),
			sampleSpec("QoS handshakes cut at every step", "handshakes", "a QoS 1 message whose publisher's link is cut still arrives",
				types.SpecStateFailed, `the subscriber never received "m-0001" within 5s`, []string{"spec:MQTT-4.3.2-2", "spec:MQTT-4.5.0-1"},
				traceEntry(sampleTrace()), textEntry(TraceEntry, "  0.001s pub c1 →B CONNECT\n")),
			sampleSpec("Retained messages", "retained", "keeps a retained message", types.SpecStateSkipped,
				DeviationPrefix+"[MQTT-3.3.1-5] drops retained messages on restart (sample profile; evidence: a test)\nobserved: nothing",
				[]string{"spec:MQTT-3.3.1-5"}, traceEntry(sampleTrace())),
			sampleSpec("Payloads", "payloads", "accepts a 256 MiB payload", types.SpecStateSkipped, UnsupportedPrefix+"the broker refused 256 MiB", nil),
			sampleSpec("Keepalive", "keepalive", "closes a silent client", types.SpecStatePassed, "", []string{"spec:MQTT-3.1.2-24"},
				textEntry(KeepaliveEntry, "keepalive 2s: the broker closed the connections 2.51s and 3.02s after the client's last packet (1.5 × keepalive = 3s)")),
			sampleSpec("Chaos", "chaos", "keeps every QoS guarantee under chaos", types.SpecStatePassed, "", nil,
				types.ReportEntry{Name: ChaosTimelineEntry, Value: types.WrapEntryValue(chaos)}),
		},
	}
}
