// Go client for the ax nonblocking-connect study.
// usage: client VARIANT HOST:PORT
//   dial         net.Dial("tcp", addr)                         (no timeout)
//   dial-timeout net.Dialer{Timeout: 2*time.Second}.Dial(...)
//   http-get     http.Get (DefaultTransport: Dialer{Timeout: 30s})
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	variant, addr := os.Args[1], os.Args[2]
	fmt.Println("START")
	start := time.Now()
	done := func(outcome, detail string) {
		fmt.Printf("RESULT outcome=%s elapsed=%.3fs detail=%q\n", outcome, time.Since(start).Seconds(), detail)
		if outcome != "OK" {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if variant == "http-get" {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			done("ERR", err.Error())
		}
		resp.Body.Close()
		done("OK", "HTTP "+resp.Status)
	}
	var c net.Conn
	var err error
	switch variant {
	case "dial":
		c, err = net.Dial("tcp", addr)
	case "dial-timeout":
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err = d.Dial("tcp", addr)
	default:
		done("ERR", "unknown variant "+variant)
	}
	if err != nil {
		done("ERR", err.Error())
	}
	connected := time.Since(start).Seconds()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.0\r\nHost: study\r\n\r\n")); err != nil {
		done("ERR", fmt.Sprintf("connected at %.3fs; write: %v", connected, err))
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		done("ERR", fmt.Sprintf("connected at %.3fs; read: %v", connected, err))
	}
	done("OK", fmt.Sprintf("connected at %.3fs; %s", connected, strings.TrimSpace(line)))
}
