package proxy

// Direction names one direction of a link.
type Direction int

const (
	// ToBroker is the client→broker direction (Toxiproxy's "upstream").
	ToBroker Direction = iota
	// FromBroker is the broker→client direction (Toxiproxy's "downstream").
	FromBroker
	// Both means ToBroker and FromBroker.
	Both
)

func (d Direction) String() string {
	switch d {
	case ToBroker:
		return "to broker"
	case FromBroker:
		return "from broker"
	case Both:
		return "both directions"
	}
	return "unknown direction"
}

// streams returns the Toxiproxy stream names d covers.
func (d Direction) streams() []string {
	switch d {
	case ToBroker:
		return []string{"upstream"}
	case FromBroker:
		return []string{"downstream"}
	}
	return []string{"upstream", "downstream"}
}
