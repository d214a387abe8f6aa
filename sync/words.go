package sync

import "fmt"

// count is n with its noun in the right number ("1 member", "3 members"),
// for the engine's own messages; views.Count is the same for what the
// views print (the engine cannot import them).
func count(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
