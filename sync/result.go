package sync

// Result is the outcome of applying one change of a plan, as reported in the
// JSON "results" list.
type Result struct {
	ID     string `json:"id"`
	Status string `json:"status"` // ResultApplied, ResultFailed or ResultSkipped
	Error  string `json:"error"`
}

// Result statuses.
const (
	ResultApplied = "applied"
	ResultFailed  = "failed"
	ResultSkipped = "skipped"
)
