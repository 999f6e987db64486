package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
)

func main() {
	listen := flag.String("listen", "", "comma-separated host:port addresses to listen on")
	flag.Parse()
	if *listen == "" {
		fmt.Fprintln(os.Stderr, "standinleader: --listen is required")
		os.Exit(2)
	}
	for _, addr := range strings.Split(*listen, ",") {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "standinleader: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("listening %s\n", l.Addr())
		go serve(l)
	}
	select {}
}

// serve logs and closes every connection l accepts.
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "standinleader: %v\n", err)
			return
		}
		fmt.Printf("accepted local=%s remote=%s\n", c.LocalAddr(), c.RemoteAddr())
		_ = c.Close()
	}
}
