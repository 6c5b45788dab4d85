// A static Go UDP client (CGO_ENABLED=0: raw syscalls, nonblocking sockets on Go's netpoller).
// Usage: udpclient dial ADDR MESSAGE     net.Dial("udp"): connect, Write, Read; prints the remote address and the reply
//
//	udpclient packet ADDR MESSAGE   net.ListenPacket + WriteTo(ADDR) + ReadFrom; prints the reply's source and the reply
//	udpclient msg ADDR MESSAGE      net.ListenUDP + WriteMsgUDP(ADDR) + ReadMsgUDP (sendmsg/recvmsg); as packet
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	mode, addr, message := os.Args[1], os.Args[2], os.Args[3]
	buf := make([]byte, 65535)
	switch mode {
	case "dial":
		conn, err := net.Dial("udp", addr)
		check(err)
		check(conn.SetDeadline(time.Now().Add(10 * time.Second)))
		_, err = conn.Write([]byte(message))
		check(err)
		n, err := conn.Read(buf)
		check(err)
		fmt.Println("remote", conn.RemoteAddr())
		fmt.Println(string(buf[:n]))
	case "packet":
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		check(err)
		check(conn.SetDeadline(time.Now().Add(10 * time.Second)))
		to, err := net.ResolveUDPAddr("udp", addr)
		check(err)
		_, err = conn.WriteTo([]byte(message), to)
		check(err)
		n, from, err := conn.ReadFrom(buf)
		check(err)
		fmt.Println("from", from)
		fmt.Println(string(buf[:n]))
	case "msg":
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		check(err)
		check(conn.SetDeadline(time.Now().Add(10 * time.Second)))
		to, err := net.ResolveUDPAddr("udp", addr)
		check(err)
		_, _, err = conn.WriteMsgUDP([]byte(message), nil, to)
		check(err)
		oob := make([]byte, 64)
		n, _, _, from, err := conn.ReadMsgUDP(buf, oob)
		check(err)
		fmt.Println("from", from)
		fmt.Println(string(buf[:n]))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
