// gorilla/websocket echo server for the fiberws benchmarks (built against Debian's golang-github-gorilla-websocket-dev).
//
//	gorilla-echo [-addr 127.0.0.1:8080] [-compress] [-broadcast]
//
// Echoes every message on /echo and /ws/:id; prints "listening on PORT" once it accepts connections.
//
//	-compress   negotiate permessage-deflate (Upgrader.EnableCompression, EnableWriteCompression(true), default
//	            level; gorilla always answers server_no_context_takeover and client_no_context_takeover)
//	-broadcast  /echo and /ws/:id connections only receive: every message read on /publish is written to each of
//	            them by a hub, one writer goroutine per connection fed by a buffered channel (gorilla's chat example;
//	            a connection whose channel is full is dropped)
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(r *http.Request) bool { return true },
}

var compress = flag.Bool("compress", false, "negotiate permessage-deflate")
var broadcast = flag.Bool("broadcast", false, "/echo receives what /publish sends")

func upgrade(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	if *compress {
		c.EnableWriteCompression(true)
	}
	c.SetReadLimit(64 << 20)
	return c
}

func echo(w http.ResponseWriter, r *http.Request) {
	if *broadcast {
		subscriber(w, r)
		return
	}
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

// ---------------------------------------------------------------- broadcast hub (gorilla's chat example)

type message struct {
	mt   int
	data []byte
}

type client struct {
	conn *websocket.Conn
	send chan message
}

type hub struct {
	clients    map[*client]bool
	register   chan *client
	unregister chan *client
	broadcast  chan message
}

var theHub = &hub{
	clients:    make(map[*client]bool),
	register:   make(chan *client),
	unregister: make(chan *client),
	broadcast:  make(chan message, 256),
}

func (h *hub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				delete(h.clients, c)
				close(c.send)
			}
		case m := <-h.broadcast:
			for c := range h.clients {
				select {
				case c.send <- m:
				default:
					close(c.send)
					delete(h.clients, c)
				}
			}
		}
	}
}

func subscriber(w http.ResponseWriter, r *http.Request) {
	conn := upgrade(w, r)
	if conn == nil {
		return
	}
	c := &client{conn: conn, send: make(chan message, 256)}
	theHub.register <- c
	go func() { // writePump
		defer conn.Close()
		for m := range c.send {
			if err := conn.WriteMessage(m.mt, m.data); err != nil {
				return
			}
		}
		conn.WriteMessage(websocket.CloseMessage, []byte{})
	}()
	// readPump: subscribers send nothing but the close handshake
	defer func() { theHub.unregister <- c }()
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

func publisher(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		theHub.broadcast <- message{mt, msg}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	upgrader.EnableCompression = *compress
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/ws/", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/ws/")
		if id == "" || strings.Contains(id, "/") {
			http.NotFound(w, r)
			return
		}
		echo(w, r)
	})
	if *broadcast {
		go theHub.run()
		mux.HandleFunc("/publish", publisher)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, mux))
}
