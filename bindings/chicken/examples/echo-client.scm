;; The documented example of ws-client 1.0: a client which connects to localhost
;; port 9001 without TLS, and echoes back every text message it receives
;; from the server. (run-tests.sh runs it against the local test server by
;; substituting the URI.)

(import ws-client)

(let ((conn (ws-connect "ws://localhost:9001")))
  (recv-message-loop
   conn
   (lambda (m)
     (if (eq? 'text (message-type m))
         (send-text-message conn (message-data m))))))
