package delivery

import (
	"context"
	"slices"
)

// CountMatching counts the dead records of s that RedriveMatching(f) would
// move now: a dry run. It pages through s.List (dead records of f's
// destination and key, changed before f.UpdatedBefore) and checks each
// record's class, so its cost grows with the dead records it reads. It
// returns the first error of s.List.
func CountMatching(ctx context.Context, s Store, f Filter) (int, error) {
	o := ListOptions{State: StateDead, Destination: f.Destination, Key: f.Key,
		UpdatedBefore: f.UpdatedBefore, Limit: MaxPageSize}
	n := 0
	for {
		page, err := s.List(ctx, o)
		if err != nil {
			return n, err
		}
		for i := range page.Records {
			if len(f.Classes) == 0 || slices.Contains(f.Classes, page.Records[i].LastAttempt.Class) {
				n++
			}
		}
		if page.Next == "" {
			return n, nil
		}
		o.After = page.Next
	}
}
