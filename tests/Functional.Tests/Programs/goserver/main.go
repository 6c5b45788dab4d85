// A static Go line echo server (CGO_ENABLED=0: raw syscalls, a nonblocking listener on Go's edge-triggered epoll
// netpoller). Answers "<name>:<line>|<remote address>|<local address>" for each line.
// Usage: goserver ADDR NAME
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	name := os.Args[2]
	fmt.Printf("listening %s\n", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accept:", err)
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			if tcp, ok := c.(*net.TCPConn); ok {
				// Go sets TCP_NODELAY on every accepted TCPConn; a keepalive too: both must succeed.
				if err := tcp.SetKeepAlive(true); err != nil {
					fmt.Fprintln(os.Stderr, "keepalive:", err)
				}
			}
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s:%s|%s|%s\n", name, line[:len(line)-1], c.RemoteAddr(), c.LocalAddr())
			}
		}(conn)
	}
}
