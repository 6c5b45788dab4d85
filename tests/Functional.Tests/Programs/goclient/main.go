// A static Go client (CGO_ENABLED=0: raw syscalls, no libc, nonblocking sockets on Go's netpoller).
// It opens N connections at once from N goroutines, sends a line on each and checks the answer.
// Usage: goclient ADDR N MESSAGE
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
)

func main() {
	addr := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	message := os.Args[3]
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, failed := 0, 0
	peers := map[string]int{}
	replies := map[string]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				mu.Lock()
				failed++
				fmt.Fprintln(os.Stderr, "dial:", err)
				mu.Unlock()
				return
			}
			defer conn.Close()
			fmt.Fprintf(conn, "%s\n", message)
			line, err := bufio.NewReader(conn).ReadString('\n')
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				fmt.Fprintln(os.Stderr, "read:", err)
				return
			}
			ok++
			peers[conn.RemoteAddr().String()]++
			replies[line[:len(line)-1]]++
		}()
	}
	wg.Wait()
	fmt.Printf("ok=%d failed=%d\n", ok, failed)
	for p, c := range peers {
		fmt.Printf("peer=%s count=%d\n", p, c)
	}
	for r, c := range replies {
		fmt.Printf("reply=%s count=%d\n", r, c)
	}
	if failed > 0 {
		os.Exit(1)
	}
}
