package workload

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
)

// WordLists are the real word lists Words reads, in order of preference:
// Debian's wamerican-insane (about 650,000 words), then the system default.
var WordLists = []string{"/usr/share/dict/american-english-insane", "/usr/share/dict/words"}

// Words returns up to n distinct words, in file order, from the first word
// list found, and its path; it returns an error naming the lists tried when
// none is installed (install it with `apt-get install wamerican-insane`).
func Words(n int) ([][]byte, string, error) {
	for _, path := range WordLists {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		seen := make(map[string]struct{})
		var keys [][]byte
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() && len(keys) < n {
			w := sc.Text()
			if _, dup := seen[w]; dup || w == "" {
				continue
			}
			seen[w] = struct{}{}
			keys = append(keys, []byte(w))
		}
		return keys, path, nil
	}
	return nil, "", fmt.Errorf("workload: no word list at %v (apt-get install wamerican-insane)", WordLists)
}
