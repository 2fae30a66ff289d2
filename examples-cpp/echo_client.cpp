// The ws-client egg's echo client in C++17 with include/wsclient.hpp: connect (with a
// permessage-deflate offer), send each argument as a text message, print what
// comes back, close, and show the server's close code.
//
//   echo_client ws://127.0.0.1:8765/ [MESSAGE...]
#include <iostream>
#include <string>

#include "wsclient.hpp"

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: echo_client ws[s]://host:port/path [MESSAGE...]\n";
        return 2;
    }
    try {
        ws::options opts;
        opts.deflate().timeouts(std::chrono::seconds(10), std::chrono::seconds(10));
        ws::connection conn(argv[1], opts);
        std::cout << "connected" << (conn.compression() ? " (permessage-deflate)" : "") << '\n';
        for (int i = 2; i < argc; i++) {
            conn.send_text(argv[i]);
            if (auto msg = conn.recv())
                std::cout << "got back: " << msg->text() << '\n';
        }
        conn.close(1000, "bye");
        while (auto msg = conn.recv()) // drain until the server's close
            std::cout << "got: " << msg->text() << '\n';
        std::cout << "server closed with " << conn.peer_close_code() << ' ' << conn.peer_close_reason() << '\n';
        return 0;
    } catch (const ws::handshake_rejected &e) {
        std::cerr << "echo_client: " << e.what() << '\n' << e.response().body;
    } catch (const ws::fail &e) {
        std::cerr << "echo_client: the server broke the protocol (closed with " << e.close_code()
                  << "): " << e.what() << '\n';
    } catch (const ws::exn &e) {
        std::cerr << "echo_client: " << e.code_name() << ": " << e.what() << '\n';
    }
    return 1;
}
