package fatedit

// DirAt returns directory p's first cluster and where that cluster lies
// (partition-relative) and its size, for tests that craft hostile
// directory trees (package fatedit_test).
func (v *Volume) DirAt(p string) (first uint32, off, size int64) {
	d := v.lookup(p)
	return d.first, v.clusterOff(d.first), v.cs
}
