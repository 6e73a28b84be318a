package main

import "testing"

func TestGoTestStreamGivesOneVerdictPerTest(t *testing.T) {
	stream := []byte(`{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
not json: the test binary printed this
{"Action":"fail","Package":"p","Test":"TestB/sub"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"fail","Package":"q"}
`)
	got, err := goTest(stream)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"p TestA": "pass", "p TestB/sub": "fail", "p TestB": "fail", "q (package)": "fail"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if _, err := goTest([]byte(`{"Action":"output","Package":"p"}`)); err == nil {
		t.Error("a stream without a verdict was read as one")
	}
}
