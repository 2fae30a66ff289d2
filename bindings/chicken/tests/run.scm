;;;; tests/run.scm - the ws-client egg against a local echo server.
;;;
;;;   csi -s tests/run.scm ws://127.0.0.1:PORT [wss://localhost:PORT2 CA.pem]
;;;
;;; The servers are tests/servers/echo_server.py, started with --deflate,
;;; and with --cert for the optional wss one (see run-tests.sh). The last
;;; line of output is "N passed, N failed"; the exit status is 1 if
;;; anything failed.

(import scheme
        (chicken base) (chicken bitwise) (chicken condition) (chicken blob) (chicken file) (chicken gc) (chicken memory)
        (chicken format) (chicken io) (chicken irregex) (chicken process-context)
        (chicken process signal) (chicken string) (chicken tcp) (chicken time)
        srfi-4
        ws-client)

(define base
  (let ((args (command-line-arguments)))
    (if (null? args)
        (begin (print "usage: csi -s tests/run.scm ws://127.0.0.1:PORT") (exit 2))
        (car args))))

(define (url path) (string-append base path))

;; The optional TLS server and the certificate that signs it.
(define tls-base
  (let ((args (command-line-arguments)))
    (and (= (length args) 3) (cadr args))))
(define tls-ca
  (let ((args (command-line-arguments)))
    (and (= (length args) 3) (caddr args))))

;;; ------------------------------------------------------------------
;;; A small assert runner

(define passed 0)
(define failed 0)
(define last-passed #f)

(define (pass! name)
  (set! passed (+ passed 1))
  (set! last-passed name))

;; The watchdog (timeout in run-tests.sh) stops a hung run with SIGTERM:
;; say where it was.
(set-signal-handler! signal/term
  (lambda (_)
    (printf "FAIL: stopped by the watchdog; the last test that passed: ~S (~A passed, ~A failed)~%"
            last-passed passed failed)
    (flush-output)
    (exit 2)))

(define (fail! name fmt . args)
  (set! failed (+ failed 1))
  (printf "FAIL ~A: ~?~%" name fmt args)
  (flush-output))                       ; seen even if the watchdog kills a hang

(define (describe-condition e)
  (if (condition? e) (condition->list e) e))

(define (check name expected thunk)
  (let ((result (handle-exceptions e (list 'raised (describe-condition e)) (list 'value (thunk)))))
    (cond ((not (eq? (car result) 'value))
           (fail! name "expected ~S, raised ~S" expected (cadr result)))
          ((equal? expected (cadr result)) (pass! name))
          (else (fail! name "expected ~S, got ~S" expected (cadr result))))))

(define-syntax test
  (syntax-rules () ((_ name expected expr) (check name expected (lambda () expr)))))

(define-syntax test-assert
  (syntax-rules () ((_ name expr) (check name #t (lambda () (and expr #t))))))

;; EXPR must raise a condition of every kind in KINDS and none in NOT-KINDS;
;; returns the condition (or #f).
(define (check-condition name kinds not-kinds thunk)
  (let ((result (call/cc
                 (lambda (k)
                   (with-exception-handler
                    (lambda (e) (k (cons 'raised e)))
                    (lambda () (cons 'value (thunk))))))))
    (cond ((eq? (car result) 'value)
           (fail! name "expected a condition ~S, got the value ~S" kinds (cdr result))
           #f)
          ((not (condition? (cdr result)))
           (fail! name "expected a condition ~S, got ~S" kinds (cdr result))
           #f)
          ((let ((c (cdr result)))
             (and (every? (lambda (k) ((condition-predicate k) c)) kinds)
                  (every? (lambda (k) (not ((condition-predicate k) c))) not-kinds)))
           (pass! name)
           (cdr result))
          (else
           (fail! name "expected kinds ~S (not ~S), got ~S" kinds not-kinds
                  (describe-condition (cdr result)))
           #f))))

(define (every? ok? l)
  (or (null? l) (and (ok? (car l)) (every? ok? (cdr l)))))

(define-syntax test-exn
  (syntax-rules ()
    ((_ name expr) (check-condition name '(exn websocket) '(fail) (lambda () expr)))))

(define-syntax test-fail
  (syntax-rules ()
    ((_ name expr) (check-condition name '(exn websocket fail) '() (lambda () expr)))))

(define (repeat-string s n)
  (let* ((l (string-length s))
         (r (make-string (* l n))))
    (do ((i 0 (+ i 1))) ((= i (* l n)) r)
      (string-set! r i (string-ref s (modulo i l))))))

(define (contains? s pattern) (and (string? s) (irregex-search (irregex-quote pattern) s) #t))

(define (echo conn data)
  (if (string? data) (send-text-message conn data) (send-binary-message conn data))
  (recv-message conn))

;; Close cleanly (the server answers and closes).
(define (finish conn)
  (ws-close conn 'normal-closure)
  (recv-message conn))

;; Let this green thread sleep in the scheduler (other threads run).
;; CHICKEN's own sleep, compiled without interrupts: done here in
;; interpreted code (set the thread's resume thunk, then schedule), a
;; timer interrupt between the two replaced the thunk with its own, and
;; the thread went on calling the scheduler for ever, at 100% CPU, until
;; the watchdog killed the run without a word.
(define (sleep-ms ms)
  (##sys#thread-sleep! (+ (current-process-milliseconds) ms)))

;;; ------------------------------------------------------------------
;;; The maps, exactly as ws-client 1.0 documents them

(define opcode-table
  '((#x0 . continuation) (#x1 . text) (#x2 . binary)
    (#x8 . connection-close) (#x9 . ping) (#xa . pong)))

(define reason-table
  `((1000 ,(u8vector 3 232) normal-closure)
    (1001 ,(u8vector 3 233) going-away)
    (1002 ,(u8vector 3 234) protocol-error)
    (1003 ,(u8vector 3 235) unsupported-data)
    (1005 ,(u8vector 3 237) no-status-rcvd)
    (1006 ,(u8vector 3 238) abnormal-closure)
    (1007 ,(u8vector 3 239) invalid-frame-payload-data)
    (1008 ,(u8vector 3 240) policy-violation)
    (1009 ,(u8vector 3 241) message-too-big)
    (1010 ,(u8vector 3 242) mandatory-ext)
    (1011 ,(u8vector 3 243) internal-server-error)
    (1015 ,(u8vector 3 247) tls-handshake)))

(for-each (lambda (p)
            (test (sprintf "opcode->optype ~A" (car p)) (cdr p) (opcode->optype (car p)))
            (test (sprintf "optype->opcode ~A" (cdr p)) (car p) (optype->opcode (cdr p))))
          opcode-table)
(for-each (lambda (r)
            (test (sprintf "close-code->reason ~A" (car r)) (caddr r) (close-code->reason (car r)))
            (test (sprintf "reason->close-code ~A" (caddr r)) (cadr r) (reason->close-code (caddr r))))
          reason-table)
(for-each (lambda (o) (test-exn (sprintf "opcode->optype ~S is an exn" o) (opcode->optype o)))
          '(3 7 #xb #xf 16 -1 256 foo))
(for-each (lambda (t) (test-exn (sprintf "optype->opcode ~S is an exn" t) (optype->opcode t)))
          '(foo "text" 1 close))
(for-each (lambda (r) (test-exn (sprintf "reason->close-code ~S is an exn" r) (reason->close-code r)))
          '(foo "normal-closure" 1000))
(for-each (lambda (c) (test-exn (sprintf "close-code->reason ~S is an exn" c) (close-code->reason c)))
          '(1004 999 3000 70000 -1 normal-closure))
(let ((e (check-condition "exn has ws-client 1.0's message property" '(exn websocket) '(fail)
                          (lambda () (opcode->optype 3)))))
  (test "exn message" "unrecognised opcode" (and e (get-condition-property e 'exn 'message))))
(test-assert "reason->close-code returns a fresh vector"
             (not (eq? (reason->close-code 'going-away) (reason->close-code 'going-away))))
(test-assert "wsclient-version" (string? (wsclient-version)))

;;; ------------------------------------------------------------------
;;; Echo: text, unicode, binary, sizes

(define conn (ws-connect (url "/")))
(test-assert "ws-connect returns a ws-connection" (ws-connection? conn))
(test-assert "is-ws-connection? (ws-client 1.0's documented name)" (is-ws-connection? conn))
(test "a new connection is open" 'open (ws-connection-state conn))
(test "no compression unless offered" #f (ws-connection-compression? conn))
(test "no subprotocol" #f (ws-connection-subprotocol conn))
(test "no peer close code yet" #f (ws-connection-close-code conn))

(let ((m (echo conn "hello")))
  (test-assert "recv-message returns a ws-message" (ws-message? m))
  (test "text message type" 'text (message-type m))
  (test "text message data is a string" "hello" (message-data m))
  (test "message-data*" (u8vector 104 101 108 108 111) (message-data* m))
  (test "message-size" 5 (message-size m))
  (test "an echoed message is not compressed" #f (message-compressed? m))
  (let ((frames (message-frames m)))
    (test "one frame" 1 (length frames))
    (let ((f (car frames)))
      (test-assert "ws-frame?" (ws-frame? f))
      (test "frame-fin" #t (frame-fin f))
      (test "frame-fin?" #t (frame-fin? f))
      (test "frame-rsv" 0 (frame-rsv f))
      (test "frame-rsv-bit 4" #f (frame-rsv-bit f 4))
      (test "frame-opcode" 1 (frame-opcode f))
      (test "frame-optype" 'text (frame-optype f))
      (test "received frames are not masked" #f (frame-mask? f))
      (test "frame-payload-length" 5 (frame-payload-length f))
      (test "frame-payload-data" (message-data* m) (frame-payload-data f))
      (test "data-frame?" #t (data-frame? f))
      (test "control-frame?" #f (control-frame? f))))
  (test "message-frames is stable" #t (eq? (message-frames m) (message-frames m))))

(let* ((text "héllo wörld ✓ 🎉 日本語")
       (m (echo conn text)))
  (test "unicode text round trip" text (message-data m))
  (test "unicode size in bytes" (string-length text) (message-size m)))

(test "empty text" "" (message-data (echo conn "")))
(test "text with NUL" "a\x00;b" (message-data (echo conn "a\x00;b")))

(let* ((bytes (let ((v (make-u8vector 256)))
                (do ((i 0 (+ i 1))) ((= i 256) v) (u8vector-set! v i i))))
       (blob (u8vector->blob bytes))
       (m (echo conn blob)))
  (test "binary message type" 'binary (message-type m))
  (test "binary message data is a blob" blob (message-data m))
  (test "binary message-data*" bytes (message-data* m))
  (test "binary from a u8vector" bytes (message-data* (echo conn bytes)))
  (test "empty binary" (make-blob 0) (message-data (echo conn (make-blob 0)))))

(let* ((n (* 3 1024 1024))
       (v (make-u8vector n)))
  (do ((i 0 (+ i 1))) ((= i n)) (u8vector-set! v i (modulo (* i 7) 251)))
  (let ((m (echo conn v)))
    (test "3 MiB binary round trip" v (and m (message-data* m)))))

;; send-message: echo a received message back, and messages we make
(let ((m (echo conn "again")))
  (send-message conn m)
  (test "send-message of a received message" "again" (message-data (recv-message conn))))
(let ((m (make-ws-message 'text "made")))
  (test "make-ws-message type" 'text (message-type m))
  (test "a made message has no frames" '() (message-frames m))
  (send-message conn m)
  (test "send-message of a made text message" "made" (message-data (recv-message conn))))
(send-message conn (make-ws-message 'binary (u8vector 1 2 3)))
(test "send-message of a made binary message" (u8vector 1 2 3) (message-data* (recv-message conn)))
(test-exn "make-ws-message with invalid UTF-8" (make-ws-message 'text "\xff;\xfe;"))
(test-exn "make-ws-message with a bad type" (make-ws-message 'pong "x"))
(test-exn "send-text-message with invalid UTF-8" (send-text-message conn "\xc3;("))
(test-exn "send-text-message with a blob" (send-text-message conn (make-blob 1)))
(test "the connection survives caller errors" "still" (message-data (echo conn "still")))

;;; ------------------------------------------------------------------
;;; Frames: send-frame / recv-frame

(let ((f (make-ws-frame #t 0 'ping #t 4 (u8vector 1 2 3 4))))
  (test "made frame optype" 'ping (frame-optype f))
  (test "made frames are masked" #t (frame-mask? f))
  (test "made frame control-frame?" #t (control-frame? f))
  (send-frame conn f)
  (let ((pong (recv-frame conn)))
    (test "ping answered: pong optype" 'pong (frame-optype pong))
    (test "pong payload" (u8vector 1 2 3 4) (frame-payload-data pong))
    (test "pong fin" #t (frame-fin pong))))
(send-frame conn (make-ws-frame #f 0 1 #t 3 "abc"))
(send-frame conn (make-ws-frame #t 0 'continuation #t 3 (string->blob "def")))
(test "fragmented text sent with send-frame" "abcdef" (message-data (recv-message conn)))
(send-frame conn (make-ws-frame #t 0 'text #t 2 "xyz"))
(let ((f (recv-frame conn)))
  (test "recv-frame of an echoed text frame" "xy" (blob->string (u8vector->blob (frame-payload-data f))))
  (test "recv-frame optype" 'text (frame-optype f))
  (test "recv-frame payload length" 2 (frame-payload-length f)))
(test "payload is the first LENGTH bytes" (u8vector 1 2)
      (frame-payload-data (make-ws-frame #t 0 2 #t 2 (u8vector 1 2 3))))
(test "rsv kept" 5 (frame-rsv (make-ws-frame #t 5 2 #t 0 (u8vector))))
(test "frame-rsv-bit" '(#t #f #t) (let ((f (make-ws-frame #t 5 2 #t 0 (u8vector))))
                                   (map (lambda (b) (frame-rsv-bit f b)) '(4 2 1))))
(test-exn "make-ws-frame rsv 8" (make-ws-frame #t 8 1 #t 0 ""))
(test-exn "make-ws-frame opcode 16" (make-ws-frame #t 0 16 #t 0 ""))
(test-exn "make-ws-frame length beyond the data" (make-ws-frame #t 0 1 #t 4 "abc"))
(test-exn "make-ws-frame unknown optype" (make-ws-frame #t 0 'bogus #t 0 ""))
(test-exn "frame-optype of a reserved opcode" (frame-optype (make-ws-frame #t 0 3 #t 0 "")))

;;; ------------------------------------------------------------------
;;; Closing: our close, and the peer's code and reason

(ws-close conn 'going-away "done here")
(test "closing after ws-close" 'closing (ws-connection-state conn))
(test-exn "send after ws-close is an exn" (send-text-message conn "late"))
(test "ws-close twice is a no-op" (void) (ws-close conn))
(test "recv-message returns #f when the server closes" #f (recv-message conn))
(test "closed" 'closed (ws-connection-state conn))
(test "the server echoed our close code" 1001 (ws-connection-close-code conn))
(test "ws-close after the close is a no-op" (void) (ws-close conn 'normal-closure))
(test-exn "recv-message after the close is an exn" (recv-message conn))
(test-exn "ws-close with a bad reason is an exn" (ws-close conn 'bogus))

(let ((c (ws-connect (url "/close/4000"))))
  (test "peer close: recv-message returns #f" #f (recv-message c))
  (test "peer close code 4000 is kept" 4000 (ws-connection-close-code c))
  (test "peer close reason" "bye" (ws-connection-close-reason c))
  (test "peer close: state" 'closed (ws-connection-state c)))
(let ((c (ws-connect (url "/close/1001"))))
  (test "recv-message-loop returns #f on a close" #f
        (recv-message-loop c (lambda (m) (error "no message expected"))))
  (test "peer close code 1001" 'going-away (close-code->reason (ws-connection-close-code c))))

;; recv-message-loop with an echo: the handler closes after three messages
(let ((c (ws-connect (url "/")))
      (got '()))
  (for-each (lambda (s) (send-text-message c s)) '("one" "two" "three"))
  (let ((r (recv-message-loop c (lambda (m)
                                  (set! got (cons (message-data m) got))
                                  (when (= 3 (length got)) (ws-close c))))))
    (test "recv-message-loop: handler saw every message" '("one" "two" "three") (reverse got))
    (test "recv-message-loop: returns #f after the close" #f r)
    (test "recv-message-loop: closed" 'closed (ws-connection-state c))
    (test "recv-message-loop: code" 1000 (ws-connection-close-code c))))

;; more: #t queues a burst; the send without it writes the whole burst
(let* ((c (ws-connect (url "/")))
       (texts (let loop ((i 9) (l '())) (if (< i 0) l (loop (- i 1) (cons (conc "batch " i) l))))))
  (for-each (lambda (s) (send-text-message c s more: #t)) texts)
  (test-assert "more: #t only queues" (> (ws-connection-queued-bytes c) (* 10 7)))
  (send-text-message c "last")
  (test "a send without more: writes the burst" 0 (ws-connection-queued-bytes c))
  (test "the burst arrives in order" (append texts '("last"))
        (map (lambda (_) (message-data (recv-message c))) (append texts '(#t))))
  (ws-close c)
  (test "queued bytes of a released connection" 0 (ws-connection-queued-bytes c)))

;;; ------------------------------------------------------------------
;;; Conditions: a fail (the library closed with 1009) and exns

(let ((c (ws-connect (url "/") '() '() max-message-size: 10)))
  (send-text-message c "0123456789abcdef")
  (let ((e (test-fail "a message over the limit is a fail" (recv-message c))))
    (test "fail reason" 'message-too-big (and e (get-condition-property e 'fail 'reason)))
    (test-assert "fail message" (and e (string? (get-condition-property e 'fail 'message))))
    (test "websocket code" -50 (and e (get-condition-property e 'websocket 'code))))
  (test "a failed connection is closed" 'closed (ws-connection-state c))
  (test "ws-close after a fail is a no-op (ws-client 1.0's advice still works)" (void)
        (ws-close c 'message-too-big)))
(let ((c (ws-connect (url "/") '() '() max-message-size: 10)))
  (send-text-message c "0123456789abcdef")
  ;; Unlike ws-client 1.0's (websocket fail), a fail is also an exn and a
  ;; (websocket exn): with condition-case, the fail clause must come first.
  (test "a fail is caught by an earlier (websocket exn) clause" 'exn-clause
        (condition-case (recv-message c)
          ((websocket exn) 'exn-clause)
          ((websocket fail) 'fail-clause))))
(let ((c (ws-connect (url "/") '() '() max-message-size: 10)))
  (send-text-message c "0123456789abcdef")
  (test "... and by (websocket fail) listed first" 'fail-clause
        (condition-case (recv-message c)
          ((websocket fail) 'fail-clause)
          ((websocket exn) 'exn-clause))))
(let* ((c (ws-connect (url "/") '() '() max-message-size: 10))
       (_ (send-text-message c "0123456789abcdef"))
       (r (recv-message-loop c (lambda (m) #f))))
  (test-assert "recv-message-loop returns the fail condition"
               (and (condition? r) ((condition-predicate 'fail) r)))
  (test "... with its reason" 'message-too-big (get-condition-property r 'fail 'reason)))

(let ((e (test-exn "connection refused is an exn" (ws-connect "ws://127.0.0.1:1/"))))
  (test-assert "exn message" (and e (string? (get-condition-property e 'exn 'message))))
  ;; As in ws-client 1.0 (tcp-connect): code written for 1.0 that catches (exn i/o net) still does.
  (test-assert "connection refused is also (exn i/o net)"
               (and e ((condition-predicate 'i/o) e) ((condition-predicate 'net) e)))
  (test "caught by condition-case (exn i/o net)" 'caught
        (condition-case (ws-connect "ws://127.0.0.1:1/") ((exn i/o net) 'caught))))
(test "a bad URI is not (exn i/o net)" 'websocket
      (condition-case (ws-connect "http://127.0.0.1:1/")
        ((exn i/o net) 'net) ((exn websocket) 'websocket)))
(test-exn "a bad URI scheme is an exn" (ws-connect "http://127.0.0.1:1/"))
;; Not a connection: an (exn websocket) from the procedure called, not an
;; (exn type) from an internal accessor.
(for-each
 (lambda (p)
   (let ((e (check-condition (sprintf "~A on a non-connection is an (exn websocket)" (car p))
                             '(exn websocket) '(type fail) (cadr p))))
     (test (sprintf "... located at ~A" (car p)) (car p)
           (and e (get-condition-property e 'exn 'location #f)))
     (test-assert (sprintf "... saying what it expected (~A)" (car p))
                  (and e (contains? (get-condition-property e 'exn 'message "") "ws-connection")))))
 `((recv-message ,(lambda () (recv-message 42)))
   (recv-frame ,(lambda () (recv-frame "ws://x/")))
   (recv-message-loop ,(lambda () (recv-message-loop #f void)))
   (send-text-message ,(lambda () (send-text-message 'c "x")))
   (ws-connection-uri ,(lambda () (ws-connection-uri 42)))
   (ws-connection-compression? ,(lambda () (ws-connection-compression? 42)))
   (ws-connection-subprotocol ,(lambda () (ws-connection-subprotocol 42)))))
(test-exn "a URI with NUL is an exn" (ws-connect "ws://a\x00;b/"))
(test-exn "a non-string URI is an exn" (ws-connect 'foo))
(test-exn "an unknown flag is an exn" (ws-connect (url "/") '() '(bogus)))
(test-exn "a non-extension is an exn" (ws-connect (url "/") '(bogus)))
(test-exn "bad deflate parameters: not alists" (permessage-deflate '(("a" . "b"))))
(test-exn "bad deflate parameters: value" (permessage-deflate '((("a" . 1.5)))))
(test-exn "bad deflate parameters: name" (permessage-deflate '(((a . #t)))))

;;; ------------------------------------------------------------------
;;; Handshake: flags, extension offers, headers, responses

(let ((c (ws-connect (url "/") '() '(strip-host))))
  (test "'strip-host is accepted" "strip" (message-data (echo c "strip")))
  (finish c))

(define deflate
  (permessage-deflate '((("client_no_context_takeover" . #t) ("client_max_window_bits" . #t)))))

(let ((c (ws-connect (url "/") (list deflate))))
  (test "permessage-deflate negotiated" #t (ws-connection-compression? c))
  (test-assert "Sec-WebSocket-Extensions answered"
               (contains? (ws-connection-header c "Sec-WebSocket-Extensions") "permessage-deflate"))
  (let* ((text (repeat-string "compressible " 2000))
         (m (echo c text)))
    (test "compressed round trip" text (message-data m))
    (test "the echo arrived compressed" #t (message-compressed? m))
    (let ((f (car (message-frames m))))
      (test "RSV1 on the compressed frame" #t (frame-rsv-bit f 4))
      (test-assert "the frame payload is the compressed size"
                   (< (frame-payload-length f) (message-size m)))))
  (finish c))

(let* ((c (ws-connect (url "/headers")
                      (list (permessage-deflate '((("server_max_window_bits" . "10")) ())))
                      '()
                      headers: '(("X-Test" . "yes"))
                      origin: "http://example.org"))
       (json (message-data (recv-message c))))
  (test-assert "the offers are sent in order, with the value and the fallback"
               (irregex-search "permessage-deflate; *server_max_window_bits=10, *permessage-deflate" json))
  (test-assert "extra header sent" (contains? json "\"X-Test\": \"yes\""))
  (test-assert "origin sent" (contains? json "\"Origin\": \"http://example.org\""))
  (finish c))

(let ((r (ws-connect (url "/status/403"))))
  (test "a 403 is returned, not raised" #t (ws-response? r))
  (test "ws-connection? tells them apart" #f (ws-connection? r))
  (test "ws-response-status" 403 (ws-response-status r))
  (test "ws-response-code" 403 (ws-response-code r))
  (test "ws-response-reason" "Forbidden" (ws-response-reason r))
  (test "ws-response-headers alist" "text/plain" (alist-ref 'content-type (ws-response-headers r)))
  (test "ws-response-header, any case" "text/plain" (ws-response-header r "CONTENT-TYPE"))
  (test "ws-response-header missing" #f (ws-response-header r 'x-missing))
  (test "ws-response-body" "status 403\n" (ws-response-body r))
  (test "ws-response-body*" (blob->u8vector (string->blob "status 403\n")) (ws-response-body* r)))

(let ((r (ws-connect (url "/status/302"))))
  (test "a redirect is returned" 302 (ws-response-status r))
  (let* ((location (ws-response-header r 'location))
         (c (ws-connect (url location))))
    (test "following the redirect by hand" "moved" (message-data (echo c "moved")))
    (finish c)))
(let ((c (ws-connect (url "/status/302") '() '() max-redirects: 1)))
  (test "max-redirects follows it" #t (ws-connection? c))
  ;; libwsclient does not tell where a redirect led: the wiki says so.
  (test "ws-connection-uri after a redirect is the URI given" (url "/status/302")
        (ws-connection-uri c))
  (when (ws-connection? c) (finish c)))

;;; ------------------------------------------------------------------
;;; Proxies (run-tests.sh starts them; each logs the tunnels it opens)

(define (file-text f) (if (file-exists? f) (with-input-from-file f read-string) ""))

;; Wait (at most 5 s) until LOG-FILE has COUNT lines containing PATTERN;
;; returns the count.
(define (log-count log-file pattern count)
  (let loop ((i 0))
    (let ((n (length (irregex-extract (irregex-quote pattern) (file-text log-file)))))
      (if (or (>= n count) (> i 500))
          n
          (begin (sleep-ms 10) (loop (+ i 1)))))))

(define server-port (irregex-match-substring (irregex-search ":([0-9]+)$" base) 1))

(let ((http-proxy (get-environment-variable "WS_HTTP_PROXY"))
      (http-log (get-environment-variable "WS_HTTP_PROXY_LOG"))
      (auth-proxy (get-environment-variable "WS_AUTH_PROXY"))
      (socks-proxy (get-environment-variable "WS_SOCKS_PROXY"))
      (socks-log (get-environment-variable "WS_SOCKS_LOG")))
  (if (not http-proxy)
      (print "(WS_HTTP_PROXY not set: the proxy tests are skipped)")
      (let ((tunnel (string-append "CONNECT 127.0.0.1:" server-port)))
        (let ((c (ws-connect (url "/") proxy: http-proxy)))
          (test "proxy: an HTTP CONNECT proxy carries the connection" "proxied"
                (message-data (echo c "proxied")))
          (finish c))
        (test "... through a tunnel the proxy opened" 1 (log-count http-log tunnel 1))
        ;; env-proxy: takes http_proxy (no_proxy, set on some machines, cleared)
        (unset-environment-variable! "no_proxy")
        (unset-environment-variable! "NO_PROXY")
        (set-environment-variable! "http_proxy" http-proxy)
        (let ((c (ws-connect (url "/"))))
          (test "without env-proxy: http_proxy is not used" "direct" (message-data (echo c "direct")))
          (finish c))
        (test "... no tunnel" 1 (log-count http-log tunnel 2))
        (let ((c (ws-connect (url "/") env-proxy: #t)))
          (test "env-proxy: #t takes http_proxy" "from env" (message-data (echo c "from env")))
          (finish c))
        (test "... through the proxy" 2 (log-count http-log tunnel 2))
        (unset-environment-variable! "http_proxy")
        (let ((c (ws-connect (url "/") proxy: (string-append "http://egg:secret@" auth-proxy))))
          (test "proxy: with credentials in the URL" "authorised" (message-data (echo c "authorised")))
          (finish c))
        (let ((e (check-condition "a proxy that refuses the tunnel is an (exn websocket)"
                                  '(exn websocket) '(fail)
                                  (lambda () (ws-connect (url "/") proxy: auth-proxy)))))
          (test "... with the result code WS_ERR_PROXY" -34
                (and e (get-condition-property e 'websocket 'code)))
          (test "... and the proxy's answer as a ws-response" 407
                (let ((r (and e (get-condition-property e 'websocket 'response #f))))
                  (and (ws-response? r) (ws-response-status r)))))
        (test-exn "a proxy URL that is not a string is an exn" (ws-connect (url "/") proxy: 8080))))
  (if (not socks-proxy)
      (print "(WS_SOCKS_PROXY not set: the SOCKS5 test is skipped)")
      (let ((c (ws-connect (string-append "ws://localhost:" server-port "/") proxy: socks-proxy)))
        (test "proxy: a SOCKS5 proxy (microsocks) carries the connection" "socks"
              (message-data (echo c "socks")))
        (finish c)
        (test "... which the SOCKS5 server connected (socks5h: it resolved the name)" 1
              (log-count socks-log (string-append "connected to localhost:" server-port) 1)))))

;;; ------------------------------------------------------------------
;;; TLS

(if (not tls-base)
    (print "(no wss server given: TLS tests skipped)")
    (begin
      (let ((c (ws-connect (string-append tls-base "/") '() '() tls-ca-file: tls-ca)))
        (test "wss echo with the test CA" "secure" (message-data (echo c "secure")))
        (let ((big (repeat-string "0123456789abcdef" 65536)))
          (test "1 MiB over TLS" big (message-data (echo c big))))
        (finish c)
        (test "wss close" 1000 (ws-connection-close-code c)))
      (let ((e (test-exn "an unknown CA is an exn" (ws-connect (string-append tls-base "/")))))
        (test-assert "... that says why"
                     (and e (contains? (get-condition-property e 'exn 'message) "certificate"))))
      (let ((c (ws-connect (string-append tls-base "/") '() '() tls-insecure: #t)))
        (test "tls-insecure: accepts it" "insecure" (message-data (echo c "insecure")))
        (finish c))
      (let ((c (ws-connect (string-append tls-base "/") (list (permessage-deflate '(()))) '()
                           tls-ca-file: tls-ca)))
        (test "wss with deflate" #t (ws-connection-compression? c))
        (test "wss with deflate: echo" "squeezed" (message-data (echo c "squeezed")))
        (finish c))))

;;; ------------------------------------------------------------------
;;; What a connection did: trace events, counters, the TLS key log

;; A trace: procedure that records, and what it recorded (oldest first).
(define (make-recorder)
  (let ((events '()))
    (values (lambda (e) (set! events (cons e events)))
            (lambda () (reverse events)))))

(define (keep ok? l)
  (cond ((null? l) '())
        ((ok? (car l)) (cons (car l) (keep ok? (cdr l))))
        (else (keep ok? (cdr l)))))

(define (kinds events) (map ws-trace-event-kind events))
(define (of-kind kind events) (keep (lambda (e) (eq? (ws-trace-event-kind e) kind)) events))
(define (first-of kind events) (let ((l (of-kind kind events))) (and (pair? l) (car l))))
(define (last-of l) (and (pair? l) (car (reverse l))))

;; Whether the kinds WANTED appear in EVENTS in this order (others between).
(define (in-order? wanted events)
  (let loop ((w wanted) (k (kinds events)))
    (cond ((null? w) #t)
          ((null? k) #f)
          ((eq? (car w) (car k)) (loop (cdr w) (cdr k)))
          (else (loop w (cdr k))))))

;; Whether STRING appears in any event's text or string fields.
(define (in-any-event? string events)
  (let loop ((l events))
    (and (pair? l)
         (or (contains? (ws-trace-event-text (car l)) string)
             (let fields ((f (ws-trace-event-fields (car l))))
               (and (pair? f)
                    (or (contains? (cdar f) string) (fields (cdr f)))))
             (loop (cdr l))))))

(let-values (((record events) (make-recorder)))
  (let ((c (ws-connect (url "/") trace: record headers: '(("Authorization" . "Bearer hush-hush")))))
    (test-assert "trace: the connect's events arrive before ws-connect returns"
                 (in-order? '(tcp-attempt tcp-connected request-sent response open) (events)))
    (test-assert "... all of them ws-trace-event records" (every? ws-trace-event? (events)))
    (test-assert "... carrying the connection's id"
                 (every? (lambda (e) (= (ws-trace-event-connection-id e) (ws-connection-id c)))
                         (events)))
    (test-assert "ws-connection-id is a positive integer"
                 (and (integer? (ws-connection-id c)) (> (ws-connection-id c) 0)))
    (let ((r (first-of 'response (events))))
      (test "the response event's status" 101 (and r (ws-trace-event-field r 'status)))
      (test-assert "... its text" (and r (contains? (ws-trace-event-text r) "101"))))
    (test-assert "the TCP address is a field"
                 (contains? (ws-trace-event-field (first-of 'tcp-connected (events)) 'address "")
                            "127.0.0.1:"))
    (test-assert "elapsed-us on every event"
                 (every? (lambda (e) (integer? (ws-trace-event-field e 'elapsed-us))) (events)))
    (test "a field the event does not have: the default" 'none
          (ws-trace-event-field (first-of 'open (events)) 'rtt-us 'none))
    (test-assert "the request's headers, credentials redacted"
                 (contains? (ws-trace-event-field (first-of 'request-sent (events)) 'headers "")
                            "Authorization: [redacted]"))
    (test "... and the secret in no event" #f (in-any-event? "hush-hush" (events)))
    (test-assert "the record prints with its kind and text"
                 (contains? (sprintf "~A" (first-of 'open (events))) "#<ws-trace-event"))
    (send-text-message c "hello")
    ;; Delivered by the call that produced it, before it returned.
    (let ((e (last-of (events))))
      (test "send-text-message: a frame-sent event before it returns" 'frame-sent
            (and e (ws-trace-event-kind e)))
      (test "... with the opcode, length, FIN and RSV1"
            '(1 5 #t #f)
            (and e (map (lambda (f) (ws-trace-event-field e f)) '(opcode length fin rsv1)))))
    (test "the echo" "hello" (message-data (recv-message c)))
    (let ((e (last-of (events))))
      (test "recv-message: a frame-received event" '(frame-received 1 5 #t)
            (and e (list (ws-trace-event-kind e) (ws-trace-event-field e 'opcode)
                         (ws-trace-event-field e 'length) (ws-trace-event-field e 'fin)))))
    (ws-ping c "rtt")
    (test "ws-ping: a ping-sent event" '(3) (map (lambda (e) (ws-trace-event-field e 'length))
                                                 (of-kind 'ping-sent (events))))
    (finish c)
    (test-assert "the close: sent, received, in order"
                 (in-order? '(close-sent frame-sent frame-received close-received) (events)))
    (test "close-sent's code" 1000 (ws-trace-event-field (first-of 'close-sent (events)) 'close-code))
    (test "close-received's code" 1000
          (ws-trace-event-field (first-of 'close-received (events)) 'close-code))
    (let ((pong (first-of 'pong-received (events))))
      (test-assert "the pong's round trip" (and pong (>= (ws-trace-event-field pong 'rtt-us -1) 0))))
    (test "one frame-sent per frame: text, ping, close" '(1 9 8)
          (map (lambda (e) (ws-trace-event-field e 'opcode)) (of-kind 'frame-sent (events))))
    (test "no failure event for a clean close" '() (of-kind 'failure (events)))
    (let ((n (length (events))))
      (ws-connection-free! c)
      (test "nothing more once the connection is released" n (length (events))))))

;; Counters after an echo: what went each way, exactly.
(let ((c (ws-connect (url "/")))
      (texts '("a" "bb" "ccc")))
  (test "counters start at 0" '(0 0 0 0)
        (map (lambda (s) (ws-connection-stat c s)) '(messages-in messages-out bytes-in bytes-out)))
  (for-each (lambda (t) (test (string-append "echo " t) t (message-data (echo c t)))) texts)
  (test "messages-out: what was sent" 3 (ws-connection-stat c 'messages-out))
  (test "messages-in: the echoes" 3 (ws-connection-stat c 'messages-in))
  (test "payload-out, payload-in: their bytes" '(6 6)
        (list (ws-connection-stat c 'payload-out) (ws-connection-stat c 'payload-in)))
  ;; A client frame: 2 bytes of header and 4 of mask; the server's: 2.
  (test "bytes-out: frames with headers and masks" (+ 6 (* 3 6)) (ws-connection-stat c 'bytes-out))
  (test "bytes-in: frames with headers" (+ 6 (* 3 2)) (ws-connection-stat c 'bytes-in))
  (test "frames-out, frames-in" '(3 3)
        (list (ws-connection-stat c 'frames-out) (ws-connection-stat c 'frames-in)))
  (let ((all (ws-connection-stats c)))
    (test-assert "ws-connection-stats: an alist of every stat"
                 (every? (lambda (s) (assq s all))
                         '(bytes-in bytes-out payload-in payload-out frames-in frames-out
                           messages-in messages-out pings-sent pongs-received rtt-last-us
                           rtt-smoothed-us time-resolve-us time-connect-us time-proxy-us
                           time-tls-us time-http-us time-total-us redirects)))
    (test "... agreeing with ws-connection-stat" (ws-connection-stat c 'bytes-out)
          (alist-ref 'bytes-out all)))
  (test-assert "the connect's total time" (> (ws-connection-stat c 'time-total-us) 0))
  (test "no TLS, no proxy: their times are 0" '(0 0)
        (list (ws-connection-stat c 'time-tls-us) (ws-connection-stat c 'time-proxy-us)))
  (ws-ping c)
  (finish c)
  (test "closed and released" 'closed (ws-connection-state c))
  (test "the counters stay readable once released" '(3 3 5 1 1)
        (map (lambda (s) (ws-connection-stat c s))
             '(messages-out messages-in frames-out pings-sent pongs-received)))
  (test-assert "... ws-connection-stats too" (= 3 (alist-ref 'messages-out (ws-connection-stats c))))
  (test-exn "an unknown stat is an exn" (ws-connection-stat c 'bogus))
  (test-exn "ws-connection-stat on a non-connection" (ws-connection-stat 42 'bytes-in)))

;; With deflate, payload and wire bytes tell the compression ratio.
(let ((c (ws-connect (url "/") (list (permessage-deflate '(()))))))
  (let ((text (repeat-string "compressible " 5000)))
    (test "deflate echo" text (message-data (echo c text)))
    (test "payload-in: the inflated size" (string-length text) (ws-connection-stat c 'payload-in))
    (test-assert "bytes-in: far fewer on the wire"
                 (< (* 10 (ws-connection-stat c 'bytes-in)) (ws-connection-stat c 'payload-in))))
  (finish c))

;; A refused connection: its events, the failure last, before the condition.
(let-values (((record events) (make-recorder)))
  (let ((e (test-exn "a refused connection with trace: is an exn"
                     (ws-connect "ws://127.0.0.1:1/" trace: record))))
    (let ((f (first-of 'failure (events))))
      (test-assert "... whose events end with a failure event"
                   (and f (eq? f (last-of (events)))))
      (test "... with the result code of the condition"
            (and e (get-condition-property e 'websocket 'code))
            (and f (ws-trace-event-field f 'result)))
      (test-assert "... and a message" (and f (string? (ws-trace-event-field f 'message))))
      (test-assert "... after the TCP attempt" (in-order? '(tcp-attempt failure) (events))))))
(let* ((seen #f)
       (e (check-condition "the failure event is delivered before the condition reaches the caller"
                           '(exn websocket) '()
                           (lambda ()
                             (ws-connect "ws://127.0.0.1:1/"
                                         trace: (lambda (e) (set! seen (ws-trace-event-kind e))))))))
  (test "... (the last event seen)" 'failure seen))

;; A non-101 answer: the response event, then the connection is gone.
(let-values (((record events) (make-recorder)))
  (let ((r (ws-connect (url "/status/403") trace: record)))
    (test "a 403 with trace:" 403 (and (ws-response? r) (ws-response-status r)))
    (test "... its response event" 403
          (let ((e (first-of 'response (events)))) (and e (ws-trace-event-field e 'status))))))

;; A trace procedure that raises: the condition goes to the caller, whose
;; work is done (the message went out); the connection goes on.
(let* ((raised #f)
       (c (ws-connect (url "/")
                      trace: (lambda (e)
                               (when (and (not raised) (eq? (ws-trace-event-kind e) 'frame-sent))
                                 (set! raised #t)
                                 (error "from the trace procedure"))))))
  (test "an error in the trace procedure reaches the caller" "from the trace procedure"
        (handle-exceptions e (get-condition-property e 'exn 'message) (send-text-message c "one")))
  (test "... the message went out all the same" "one" (message-data (recv-message c)))
  (test "... and the connection goes on" "two" (message-data (echo c "two")))
  (finish c))

;; The procedure runs after the call, outside the connection's lock: it
;; may read the connection's counters.
(let* ((out '())
       (c #f))
  (set! c (ws-connect (url "/")
                      trace: (lambda (e)
                               (when (eq? (ws-trace-event-kind e) 'frame-received)
                                 (set! out (cons (ws-connection-stat c 'frames-in) out))))))
  (echo c "x")
  (echo c "y")
  (test "the trace procedure may call the egg on its own connection" '(2 1) out)
  (finish c))

(test-exn "trace: must be a procedure" (ws-connect (url "/") trace: 'yes))

;; Through the HTTP CONNECT proxy: the proxy's steps and time.
(let ((http-proxy (get-environment-variable "WS_HTTP_PROXY")))
  (when http-proxy
    (let-values (((record events) (make-recorder)))
      (let ((c (ws-connect (url "/") proxy: http-proxy trace: record)))
        (test-assert "through a proxy: proxy events" (pair? (of-kind 'proxy (events))))
        (test-assert "... and the proxy's time" (> (ws-connection-stat c 'time-proxy-us) 0))
        (finish c)))))

;; TLS: the tls-done event, its time, and the key log (beside the test
;; CA, in run-tests.sh's scratch folder).
(define (temporary-path name)
  (string-append (irregex-replace "/[^/]*$" tls-ca "") "/" name))

(when tls-base
  (let-values (((record events) (make-recorder)))
    (let* ((keylog (temporary-path "keylog"))
           (_ (when (file-exists? keylog) (delete-file keylog)))
           (c (ws-connect (string-append tls-base "/") tls-ca-file: tls-ca trace: record
                          tls-keylog-file: keylog)))
      (let ((t (first-of 'tls-done (events))))
        (test-assert "wss with trace: a tls-done event" t)
        (test-assert "... with the TLS version" (and t (contains? (ws-trace-event-field t 'tls-version "")
                                                                  "TLS")))
        (test-assert "... and the server certificate's subject"
                     (and t (contains? (ws-trace-event-field t 'peer-subject "") "localhost"))))
      (test-assert "time-tls-us" (> (ws-connection-stat c 'time-tls-us) 0))
      (test "echo with a key log" "logged" (message-data (echo c "logged")))
      (finish c)
      (test-assert "tls-keylog-file: the TLS 1.3 secrets are written"
                   (contains? (file-text keylog) "CLIENT_TRAFFIC_SECRET_0"))
      (when (file-exists? keylog) (delete-file keylog))))
  (let ((keylog (temporary-path "keylog-env")))
    (when (file-exists? keylog) (delete-file keylog))
    (set-environment-variable! "SSLKEYLOGFILE" keylog)
    (finish (ws-connect (string-append tls-base "/") tls-ca-file: tls-ca))
    (test "SSLKEYLOGFILE alone writes nothing" #f (file-exists? keylog))
    (finish (ws-connect (string-append tls-base "/") tls-ca-file: tls-ca tls-keylog-env: #t))
    (test-assert "tls-keylog-env: #t writes to SSLKEYLOGFILE"
                 (contains? (file-text keylog) "CLIENT_TRAFFIC_SECRET_0"))
    (unset-environment-variable! "SSLKEYLOGFILE")
    (when (file-exists? keylog) (delete-file keylog))))
(test-exn "tls-keylog-file: must be a string" (ws-connect (url "/") tls-keylog-file: 1))

;;; ------------------------------------------------------------------
;;; Freeing

(let ((c (ws-connect (url "/"))))
  (ws-connection-free! c)
  (test "free! closes" 'closed (ws-connection-state c))
  (test "free! twice is harmless" (void) (ws-connection-free! c)))

(let ((c (ws-connect (url "/"))))
  (ws-connection-free! c)
  (test-exn "using a freed connection is an exn" (send-text-message c "x"))
  (test-exn "recv on a freed connection is an exn" (recv-message c)))

;; Many messages, frames, responses and connections left to the finalizers
(let ((c (ws-connect (url "/"))))
  (do ((i 0 (+ i 1))) ((= i 300))
    (let ((m (echo c (number->string i))))
      (message-frames m)))
  (do ((i 0 (+ i 1))) ((= i 20))
    (ws-connect (url "/status/404"))
    (make-ws-frame #t 0 'text #t 1 "x"))
  (finish c))
(gc #t)
(gc #t)
(test "finalizers ran without trouble" "alive" (let ((c (ws-connect (url "/"))))
                                                 (let ((m (echo c "alive"))) (finish c) (message-data m))))

;; Borrowed frames keep their message alive
(define kept-frame
  (let ((c (ws-connect (url "/"))))
    (let ((f (car (message-frames (echo c "kept")))))
      (finish c)
      f)))
(gc #t)
(test "a message's frame outlives the message variable" (u8vector 107 101 112 116)
      (frame-payload-data kept-frame))

;;; ------------------------------------------------------------------
;;; Green threads: a receive must not stop the other threads

(define (spawn thunk)
  (let ((t (##sys#make-thread #f 'created 'ws-test (##sys#slot ##sys#current-thread 9))))
    (##sys#setslot t 1 (lambda () (thunk) (##sys#thread-kill! t 'dead) (##sys#schedule)))
    (##sys#setslot t 3 'ready)
    (##sys#add-to-ready-queue t)
    t))

;; What a green thread waits for in CHICKEN's scheduler: (fd . #:input) (or
;; #:output, #:all) while it is blocked for I/O, else #f.
(define (blocked-for-i/o t)
  (and (eq? 'blocked (##sys#slot t 3))
       (pair? (##sys#slot t 11))
       (##sys#slot t 11)))

;; Yield to the other green threads until (done?) holds, for at most 10 s.
(define (yield-until done?)
  (let ((deadline (+ (current-process-milliseconds) 10000)))
    (let loop ()
      (unless (or (done?) (> (current-process-milliseconds) deadline))
        (##sys#thread-yield!)
        (loop)))))

;; The echo server sends nothing until we do: the receiver has to wait in
;; the scheduler for the socket, and this thread has to send meanwhile.
(let* ((c (ws-connect (url "/")))
       (events '())                     ; newest first
       (note! (lambda (e) (set! events (cons e events))))
       (got #f)
       (t (spawn (lambda ()
                   (note! 'receiving)
                   (set! got (message-data (recv-message c)))
                   (note! 'received)))))
  (yield-until (lambda () (blocked-for-i/o t)))
  (test-assert "the receiving thread is waiting for its socket to be readable"
               (memq (cdr (or (blocked-for-i/o t) '(#f . #f))) '(#:input #:all)))
  (test "... inside recv-message, with nothing received yet" '((receiving) #f) (list events got))
  ;; If the receive blocked the process, we would never get here.
  (note! 'sending)
  (send-text-message c "from another thread")
  ;; Its last event, not `got': the thread may be preempted between the two.
  (yield-until (lambda () (memq 'received events)))
  (test "the receiving thread got the echo" "from another thread" got)
  (test "... after this thread sent it, while the receive waited"
        '(receiving sending received) (reverse events))
  (finish c))

;;; ------------------------------------------------------------------
;;; Keyword arguments without the positional lists

(let ((c (ws-connect (url "/") max-message-size: 10)))
  (send-text-message c "0123456789abcdef")
  (test-fail "a keyword right after the URI takes effect" (recv-message c)))
(let* ((c (ws-connect (url "/headers") origin: "http://example.org"))
       (json (message-data (recv-message c))))
  (test-assert "origin: right after the URI" (contains? json "\"Origin\": \"http://example.org\""))
  (finish c))
(let ((c (ws-connect (url "/") (list deflate) compression-level: 1)))
  (test "keywords after the extensions only" #t (ws-connection-compression? c))
  (finish c))
(let ((c (ws-connect (url "/") '() '(strip-host) read-timeout: 5000)))
  (test "keywords after both lists (ws-client 1.0's form)" "both" (message-data (echo c "both")))
  (finish c))
(test-exn "an unknown keyword is an exn" (ws-connect (url "/") bogus: 1))
(test-exn "a keyword without a value is an exn" (ws-connect (url "/") origin:))
(test-exn "a stray value among keywords is an exn" (ws-connect (url "/") '() '() 5))
(test-exn "a negative read-timeout is an exn" (ws-connect (url "/") read-timeout: -1))
(test-exn "ping-timeout without ping-interval is an exn" (ws-connect (url "/") ping-timeout: 100))

;;; ------------------------------------------------------------------
;;; Waits that let other green threads run: timeouts, big sends, closes

;; Run (thunk) while another green thread counts ticks (one every 5 ms of
;; waiting). Returns (values result-or-condition ticks elapsed-ms).

(define (with-ticker thunk)
  (let* ((ticks 0)
         (ticking #t)
         (start (current-process-milliseconds)))
    (spawn (lambda ()
             (let loop ()
               (when ticking
                 (set! ticks (+ ticks 1))
                 (sleep-ms 5)
                 (loop)))))
    (let ((r (handle-exceptions e e (thunk))))
      (set! ticking #f)
      (values r ticks (- (current-process-milliseconds) start)))))

(define (timeout-condition? e)
  (and (condition? e) ((condition-predicate 'timeout) e)
       ((condition-predicate 'websocket) e)
       (eqv? -11 (get-condition-property e 'websocket 'code #f))))

;; A whole second: on a loaded machine a process can lose its core for a
;; few hundred milliseconds, and a timeout that passes before the first
;; wait would leave the other thread no turn.
(let ((c (ws-connect (url "/") read-timeout: 1000)))
  (let-values (((e ticks ms) (with-ticker (lambda () (recv-message c)))))
    (test-assert "read-timeout: recv-message raises (exn websocket timeout)" (timeout-condition? e))
    (test-assert "... after the read timeout" (>= ms 990))
    (test-assert "... and other threads ran while it waited" (> ticks 0)))
  (test "the connection is still open after a read timeout" 'open (ws-connection-state c))
  (test "... and usable" "after" (message-data (echo c "after")))
  (ws-ping c "hi")
  (let ((pong (recv-frame c)))
    (test "ws-ping: the pong comes back" 'pong (frame-optype pong))
    (test "ws-ping: with our payload" (u8vector 104 105) (frame-payload-data pong)))
  (finish c))

;; CHICKEN's tcp parameters are the defaults of the read, write and
;; connect timeouts, as for ws-client 1.0's tcp ports.
(let ((c (parameterize ((tcp-read-timeout 200)) (ws-connect (url "/")))))
  (let-values (((e ticks ms) (with-ticker (lambda () (recv-message c)))))
    (test-assert "(tcp-read-timeout) is the default read timeout" (timeout-condition? e))
    (test-assert "... of 200 ms" (>= ms 190)))
  (finish c))
(let ((c (parameterize ((tcp-read-timeout 100)) (ws-connect (url "/") read-timeout: 400))))
  (let-values (((e ticks ms) (with-ticker (lambda () (recv-message c)))))
    (test-assert "read-timeout: given wins over (tcp-read-timeout)"
                 (and (timeout-condition? e) (>= ms 390))))
  (finish c))
(let* ((c (parameterize ((tcp-read-timeout 100)) (ws-connect (url "/") read-timeout: #f))))
  (spawn (lambda () (sleep-ms 300) (send-text-message c "late")))
  (test "read-timeout: #f is none, whatever (tcp-read-timeout) says" "late"
        (message-data (recv-message c)))
  (finish c))
;; A listener whose accept queue is full (backlog 0, filled, never
;; accepted): Linux drops the next SYN, so a connect waits for its timeout.
(let* ((l (tcp-listen 0 0 "127.0.0.1"))
       (port (tcp-listener-port l))
       (held (map (lambda (_)
                    (handle-exceptions e #f
                      (parameterize ((tcp-connect-timeout 200))
                        (call-with-values (lambda () (tcp-connect "127.0.0.1" port)) list))))
                  '(1 2 3)))
       (uri (sprintf "ws://127.0.0.1:~A/" port)))
  (let-values (((e ticks ms)
                (with-ticker (lambda () (parameterize ((tcp-connect-timeout 300)) (ws-connect uri))))))
    (test-assert "(tcp-connect-timeout) is the default connect timeout" (timeout-condition? e))
    (test-assert (sprintf "... of 300 ms, not libwsclient's 30 s (took ~A ms)" ms)
                 (and (>= ms 290) (< ms 5000)))
    (test-assert (sprintf "... and other threads ran while the TCP connect waited (~A ticks)" ticks)
                 (> ticks 0)))
  (for-each (lambda (p) (when p (close-input-port (car p)) (close-output-port (cadr p)))) held)
  (tcp-close l))

;; ws-connect waits in the scheduler. A listener with room in its backlog
;; that never accepts: the kernel completes TCP and takes the upgrade
;; request, and no answer ever comes, so the handshake timeout ends the
;; connect; meanwhile other threads run.
(let* ((l (tcp-listen 0 8 "127.0.0.1"))
       (uri (sprintf "ws://127.0.0.1:~A/" (tcp-listener-port l))))
  (let-values (((e ticks ms) (with-ticker (lambda () (ws-connect uri handshake-timeout: 500)))))
    (test-assert "a server that never answers: handshake-timeout: raises (exn websocket timeout)"
                 (timeout-condition? e))
    (test-assert "... also (exn i/o net), as a failed connect is"
                 (and (condition? e) ((condition-predicate 'i/o) e) ((condition-predicate 'net) e)))
    (test-assert (sprintf "... after the handshake timeout of 500 ms (took ~A ms)" ms)
                 (and (>= ms 490) (< ms 5000)))
    (test-assert (sprintf "... and other threads ran while ws-connect waited (~A ticks)" ticks)
                 (> ticks 0)))
  ;; Two connects at once, each in its own thread: both wait for their
  ;; sockets in the scheduler at the same time.
  (let* ((r1 #f)
         (r2 #f)
         (connect (lambda () (handle-exceptions e e (ws-connect uri handshake-timeout: 1000))))
         (t1 (spawn (lambda () (set! r1 (connect)))))
         (t2 (spawn (lambda () (set! r2 (connect))))))
    (yield-until (lambda () (and (blocked-for-i/o t1) (blocked-for-i/o t2))))
    (test-assert "two connects in two threads wait for their sockets at the same time"
                 (and (blocked-for-i/o t1) (blocked-for-i/o t2)
                      (not (= (car (blocked-for-i/o t1)) (car (blocked-for-i/o t2))))))
    (yield-until (lambda () (and r1 r2)))
    (test-assert "... and both end at their handshake timeout"
                 (and (timeout-condition? r1) (timeout-condition? r2))))
  (tcp-close l))

;; A connect that succeeds waits for the server's answer the same way.
(let-values (((c ticks ms) (with-ticker (lambda () (ws-connect (url "/"))))))
  (test-assert "ws-connect to the echo server returns a connection" (ws-connection? c))
  (test-assert (sprintf "... and other threads ran while it waited for the answer (~A ticks)" ticks)
               (> ticks 0))
  (when (ws-connection? c)
    (test "... which works" "after a yielding connect" (message-data (echo c "after a yielding connect")))
    (finish c)))
(let-values (((r ticks ms) (with-ticker (lambda () (ws-connect (url "/status/403"))))))
  (test "a 403 while other threads run: still returned as a ws-response" 403
        (and (ws-response? r) (ws-response-status r))))

;; Keepalive through the scheduler: an echo server answers the pings (sent
;; every 50 ms while recv-message waits; each pong due within 700 ms, which
;; a loaded machine's echo server still meets)...
(let ((c (ws-connect (url "/") ping-interval: 50 ping-timeout: 700 read-timeout: 2000)))
  (let ((e (handle-exceptions e e (recv-message c))))
    (test-assert "keepalive with pongs: only the read timeout ends the wait"
                 (and (timeout-condition? e)
                      (contains? (get-condition-property e 'exn 'message "") "read timeout"))))
  (test "keepalive with pongs: still open" 'open (ws-connection-state c))
  (finish c))

(define slow-base (get-environment-variable "WS_SLOW_URL"))

(define (pattern-blob n)                ; byte i is i mod 251
  (let ((b (make-blob n)))
    (do ((i 0 (+ i 1))) ((= i (min n 251)))
      (move-memory! (u8vector i) b 1 0 i))
    (let loop ((have (min n 251)))
      (when (< have n)
        (let ((k (min have (- n have))))
          (move-memory! b b k 0 have)
          (loop (+ have k)))))
    b))

(if (not slow-base)
    (print "(WS_SLOW_URL not set: the slow-server tests are skipped)")
    (let ((slow (lambda (path) (string-append slow-base path)))
          (big (pattern-blob (* 64 1024 1024))))
      ;; 64 MiB to a server that reads at a bounded rate: the send waits for
      ;; the socket many times, in the scheduler.
      (let ((c (ws-connect (slow "/slow-reader"))))
        (let-values (((r ticks ms) (with-ticker (lambda () (send-binary-message c big)))))
          (test "a 64 MiB send to a slow reader returns" (void) r)
          (test-assert "other threads ran during the 64 MiB send" (> ticks 0)))
        (test "the slow reader got all 64 MiB intact" (sprintf "ok ~A" (* 64 1024 1024))
              (message-data (recv-message c)))
        (send-binary-message c (pattern-blob 1000))
        (test "the connection goes on after the big send" "ok 1000" (message-data (recv-message c)))
        (finish c)
        (test "the slow reader answered our close" 1000 (ws-connection-close-code c)))
      ;; A server that never reads: the write timeout ends the send.
      (let ((c (ws-connect (slow "/no-read") write-timeout: 300)))
        (let-values (((e ticks ms) (with-ticker (lambda () (send-binary-message c big)))))
          (test-assert "write-timeout: a send nobody reads raises (exn websocket timeout)"
                       (timeout-condition? e))
          (test-assert "... after the write timeout" (>= ms 290))
          (test-assert "... and other threads ran while it waited" (> ticks 0)))
        (test "the connection stays open after a write timeout" 'open (ws-connection-state c))
        (ws-connection-free! c))
      ;; (tcp-write-timeout) is the default write timeout.
      (let ((c (parameterize ((tcp-write-timeout 300)) (ws-connect (slow "/no-read")))))
        (let-values (((e ticks ms) (with-ticker (lambda () (send-binary-message c big)))))
          (test-assert "(tcp-write-timeout) is the default write timeout" (timeout-condition? e))
          (test-assert "... of 300 ms" (>= ms 290)))
        (ws-connection-free! c))
      ;; A server that never answers our close and never closes TCP: the
      ;; wait ends at the close timeout.
      (let ((c (ws-connect (slow "/no-close") close-timeout: 500)))
        (let-values (((e ticks ms) (with-ticker (lambda () (ws-close c) (recv-message c)))))
          (test-assert "no close answer: recv-message raises (exn websocket timeout)"
                       (timeout-condition? e))
          (test-assert "... not before the close timeout" (>= ms 490))
          (test-assert "... and other threads ran during the close and its wait" (> ticks 0))
          (test-assert "... saying so" (contains? (get-condition-property e 'exn 'message "")
                                                  "did not answer our close")))
        (test "closed at the close timeout" 'closed (ws-connection-state c)))
      ;; One thread waits for a message while another closes: the waiting
      ;; receive picks up the close deadline.
      (let* ((c (ws-connect (slow "/no-close") close-timeout: 300))
             (result #f))
        (spawn (lambda () (set! result (handle-exceptions e e (recv-message c)))))
        (sleep-ms 50)
        (test "another thread waits in recv-message" #f result)
        (ws-close c)
        (let loop ((i 0))                   ; at most 10 s: a hang guard
          (unless (or result (> i 2000)) (sleep-ms 5) (loop (+ i 1))))
        (test-assert "... and its receive ends at the close timeout of our ws-close"
                     (timeout-condition? result)))
      ;; ...and a server that never pongs fails the keepalive.
      (let ((c (ws-connect (slow "/no-close") ping-interval: 100 ping-timeout: 200
                           close-timeout: 300)))
        (let-values (((e ticks ms) (with-ticker (lambda () (recv-message c)))))
          (test-assert "keepalive without pongs: (exn websocket timeout)" (timeout-condition? e))
          (test-assert "... saying keepalive" (contains? (get-condition-property e 'exn 'message "")
                                                         "keepalive"))
          (test-assert "... and other threads ran while it waited" (> ticks 0)))
        (test "keepalive failure closes the connection" 'closed (ws-connection-state c))
      ;; The failure is raised when it is known (the pong is due at about
      ;; 300 ms), not after the close timeout (10 s here) that the 1011
      ;; close would give a server that neither answers nor closes TCP.
      ;; (The bound leaves a loaded machine seconds of slack.)
      (let ((c (ws-connect (slow "/no-close") ping-interval: 100 ping-timeout: 200
                           close-timeout: 10000)))
        (let-values (((e ticks ms) (with-ticker (lambda () (recv-message c)))))
          (test-assert "keepalive failure with a long close timeout: (exn websocket timeout)"
                       (timeout-condition? e))
          (test-assert (sprintf "... raised within 5 s, not at the 10 s close timeout (took ~A ms)" ms)
                       (< ms 5000)))
        (test "... the connection closed" 'closed (ws-connection-state c))))))

;;; ------------------------------------------------------------------
;;; Messages in pieces: recv-message-part and recv-message-port
;;;
;;; The echo server's /big/N sends one message of N bytes made as it goes
;;; (binary: byte i is i mod 251; ?text: text-unit repeated, N rounded
;;; down to whole units) in frames of 65537 bytes (?frame=F), with a ping
;;; between frames for ?ping (then the text "pongs K"); then it echoes.

(define text-unit "a✓é🙂 wörld")    ; 17 bytes: characters of 1 to 4 bytes
(define big (* 8 1024 1024))
(define big-text (* 17 (quotient big 17)))

;; Texts to compare pieces with: text-unit repeated over `n' bytes and
;; one more unit, so that a piece starting anywhere in a unit fits.
(define (pattern-text n)
  (let* ((k (+ (quotient n 17) 2))
         (s (make-string (* 17 k))))
    (do ((i 0 (+ i 1))) ((= i k) s)
      (move-memory! text-unit s 17 0 (* 17 i)))))

(define part-patterns (make-parameter #f))

;; Whether `piece' (a string or blob) is the message's bytes at `offset':
;; for text, the pattern's, starting between characters (not a UTF-8
;; continuation byte); for binary, bytes i mod 251.
(define (piece-matches? piece offset type)
  (let* ((text? (eq? type 'text))
         (len (if text? (string-length piece) (blob-size piece)))
         (unit (if text? 17 251))
         (pattern (if text? (cdr (part-patterns)) (car (part-patterns))))
         (start (modulo offset unit)))
    (and (if text? (string? piece) (blob? piece))
         (<= (+ start len) (if text? (string-length pattern) (blob-size pattern)))
         (if text?
             (and (string=? piece (substring pattern start (+ start len)))
                  (or (= len 0) (not (= (bitwise-and (char->integer (string-ref piece 0)) #xc0) #x80))))
             (let ((expected (make-blob len)))
               (move-memory! pattern expected len start 0)
               (equal? piece expected))))))

;; Receive one message with recv-message-part: (values total-bytes pieces
;; type all-matched? largest-piece), checking each piece as it comes.
(define (receive-in-parts c #!optional (size 65536))
  (let loop ((total 0) (pieces 0) (ok #t) (largest 0))
    (let-values (((piece type last) (recv-message-part c size)))
      (if (not piece)
          (values total pieces #f #f largest)
          (let* ((len (if (string? piece) (string-length piece) (blob-size piece)))
                 (ok (and ok (piece-matches? piece total type))))
            (if last
                (values (+ total len) (+ pieces 1) type ok (max largest len))
                (loop (+ total len) (+ pieces 1) ok (max largest len))))))))

(define big-url (lambda (n . query) (url (sprintf "/big/~A~A" n (if (null? query) "" (car query))))))

(part-patterns (cons (pattern-blob (+ 200000 251)) (pattern-text 200000)))

;; 8 MiB, binary and text, with and without permessage-deflate, in pieces
;; of the default 64 KiB and of sizes that cut frames and characters.
(for-each
 (lambda (compressed?)
   (let ((c (ws-connect (big-url big) (if compressed? (list deflate) '()))))
     (test (sprintf "8 MiB binary in pieces (deflate ~A): agreed" compressed?)
           compressed? (ws-connection-compression? c))
     (let-values (((total pieces type ok largest) (receive-in-parts c)))
       (test (sprintf "8 MiB binary in pieces (deflate ~A): every byte, in order" compressed?)
             (list big 'binary #t) (list total type ok))
       (test-assert (sprintf "... in pieces of at most 64 KiB (~A pieces)" pieces)
                    (and (>= pieces (quotient big 65536)) (<= largest 65536))))
     (test "... then the connection goes on" "after" (message-data (echo c "after")))
     (finish c))
   (let ((c (ws-connect (big-url big "?text") (if compressed? (list deflate) '()))))
     (let-values (((total pieces type ok largest) (receive-in-parts c 100000)))
       (test (sprintf "8 MiB text in pieces of 100000 (deflate ~A): every byte, whole characters"
                      compressed?)
             (list big-text 'text #t) (list total type ok))
       (test-assert "... none over 100000 bytes" (<= largest 100000)))
     (finish c)))
 '(#f #t))

;; Pieces smaller than a character: 4 bytes (the least), 5 and 7, over
;; frames of 1000 bytes that cut characters too.
(for-each
 (lambda (size)
   (let ((c (ws-connect (big-url 20000 "?text&frame=1000") (list deflate))))
     (let-values (((total pieces type ok largest) (receive-in-parts c size)))
       (test (sprintf "text in pieces of ~A bytes: whole characters, every byte" size)
             (list (* 17 (quotient 20000 17)) 'text #t) (list total type ok))
       (test-assert "... none larger" (<= largest size)))
     (finish c)))
 '(4 5 7))

;; One frame of 1 MiB: pieces split the frame as it arrives.
(let ((c (ws-connect (big-url (* 1024 1024) (sprintf "?frame=~A" (* 1024 1024))))))
  (let-values (((total pieces type ok largest) (receive-in-parts c 10000)))
    (test "a 1 MiB frame in pieces of 10000 bytes" (list (* 1024 1024) #t) (list total ok))
    (test-assert "... in many pieces" (>= pieces 105)))
  (finish c))

;; A fragmented message with a ping between frames: the pings are
;; answered while the pieces come, and the trace of each frame is
;; delivered by the call that received it.
(let*-values (((record recorded) (make-recorder))
              ((c) (ws-connect (big-url 300000 "?text&ping&frame=30000") trace: record)))
  (let ((frames-seen '()))              ; data frames traced when each piece returned
    (let loop ((total 0))
      (let-values (((piece type last) (recv-message-part c 8192)))
        (set! frames-seen
          (cons (length (keep (lambda (e) (memv (ws-trace-event-field e 'opcode) '(0 1 2)))
                              (of-kind 'frame-received (recorded))))
                frames-seen))
        (if last
            (test "a fragmented text with pings, in pieces: every byte" 299999
                  (+ total (string-length piece)))
            (loop (+ total (string-length piece))))))
    (test "... the server had its 9 pongs" "pongs 9" (message-data (recv-message c)))
    (test "... pongs went out between the pieces"
          #t (> (length (keep (lambda (e) (eqv? (ws-trace-event-field e 'opcode) 10))
                              (of-kind 'frame-sent (recorded))))
                0))
    (test-assert "... the first piece came with its frame's trace event" (>= (last-of frames-seen) 1))
    (test "... the last one with all 11 data frames' (10 and the empty end)" 11 (car frames-seen)))
  (finish c))

;; A message begun in pieces is finished in pieces.
(let ((c (ws-connect (big-url 1000000))))
  (define first-size
    (let-values (((piece type last) (recv-message-part c)))
      (test-assert "a first piece, of what has arrived"
                   (and (<= 1 (blob-size piece) 65536) (eq? type 'binary) (not last)))
      (blob-size piece)))
  (let ((e (test-exn "recv-message in the middle of a message received in pieces: an exn"
                     (recv-message c))))
    (test "... with WS_ERR_INVALID_STATE" -3 (and e (get-condition-property e 'websocket 'code #f))))
  (test-exn "... recv-frame too" (recv-frame c))
  (test-exn "... and recv-message-port" (recv-message-port c))
  (test "... the connection stays open" 'open (ws-connection-state c))
  (let loop ((total first-size))
    (let-values (((piece type last) (recv-message-part c)))
      (if last
          (test "... and the rest comes in pieces" 1000000 (+ total (blob-size piece)))
          (loop (+ total (blob-size piece))))))
  (test "... then recv-message works again" "whole" (message-data (echo c "whole")))
  (finish c))

;; recv-message-port: the message's bytes through an input port.
(for-each
 (lambda (compressed?)
   (let ((c (ws-connect (big-url big) (if compressed? (list deflate) '()))))
     (let-values (((in type) (recv-message-port c)))
       (test (sprintf "recv-message-port (deflate ~A): an input port and the type" compressed?)
             '(#t binary) (list (input-port? in) type))
       ;; read-u8vector! in chunks of 100000 (not the pieces' size)
       (let loop ((total 0) (ok #t))
         (let* ((v (read-u8vector 100000 in)))
           (if (eof-object? v)
               (test "... reads all 8 MiB, every byte, then the end of file"
                     (list big #t) (list total ok))
               (loop (+ total (u8vector-length v))
                     (and ok (piece-matches? (u8vector->blob/shared v) total 'binary))))))
       (close-input-port in))
     (test "... then the connection goes on" "next" (message-data (echo c "next")))
     (finish c)))
 '(#f #t))

(let ((c (ws-connect (big-url 100000 "?text") (list deflate))))
  (let-values (((in type) (recv-message-port c 1000)))
    (test "a text message's port" 'text type)
    (test "read-char and peek-char read its bytes" '(#\a #\a #xe2)
          (let* ((peeked (peek-char in)) (a (read-char in)) (b (read-char in)))
            (list peeked a (char->integer b))))
    (test-assert "read-string reads on from there"
                 (string=? (read-string 16 in) (substring (cdr (part-patterns)) 2 18)))
    (test-assert "read-string of more than a piece reads across pieces"
                 (string=? (read-string 5000 in) (substring (cdr (part-patterns)) 18 5018)))
    ;; The port owns its message: no other receive may take its bytes.
    (let ((e (test-exn "recv-message-part while a port reads the message: an exn"
                       (recv-message-part c))))
      (test "... WS_ERR_INVALID_STATE" -3 (and e (get-condition-property e 'websocket 'code #f))))
    (test-exn "... recv-message-port too" (recv-message-port c))
    (test-exn "... recv-message too" (recv-message c))
    ;; Closing it early drops the rest of the message.
    (close-input-port in))
  (test "closing the port early drops the rest; the next message comes whole"
        "after the port" (message-data (echo c "after the port")))
  (send-text-message c "a small one")
  (let-values (((in type) (recv-message-port c)))
    (test "a small message through a port" '("a small one" text #t)
          (list (read-string #f in) type (eof-object? (read-char in))))
    (close-input-port in))
  (send-binary-message c (make-blob 0))
  (let-values (((in type) (recv-message-port c)))
    (test "an empty message: the end of file at once" '(#t binary) (list (eof-object? (read-char in)) type)))
  (finish c))

;; A trace procedure that raises: the condition reaches the reader, the
;; piece is kept (a port loses no byte), and the connection goes on.
(define (raise-on-data-frame n)          ; a trace: procedure
  (let ((frames 0))
    (lambda (e)
      (when (and (eq? (ws-trace-event-kind e) 'frame-received)
                 (memv (ws-trace-event-field e 'opcode) '(0 1 2)))
        (set! frames (+ frames 1))
        (when (= frames n) (error "the trace procedure says no"))))))
;; (A read-char takes nothing before it receives; a read-string that
;; raises loses what it had copied, as documented.)
(let ((c (ws-connect (big-url 50000 "?frame=5000") trace: (raise-on-data-frame 3))))
  (let-values (((in type) (recv-message-port c 1000)))
    (let loop ((total 0) (ok #t) (conditions 0))
      (let ((r (handle-exceptions e 'raised (read-char in))))
        (cond ((eq? r 'raised) (loop total ok (+ conditions 1)))
              ((eof-object? r)
               (test "a trace procedure raises while a port reads: raised once, no byte lost"
                     (list 1 50000 #t) (list conditions total ok)))
              (else (loop (+ total 1)
                          (and ok (= (char->integer r) (modulo total 251)))
                          conditions))))))
  (test "... the connection goes on" "on" (message-data (echo c "on")))
  (finish c))
(let ((c (ws-connect (big-url 300000 "?frame=30000") trace: (raise-on-data-frame 1))))
  (test-assert "a trace procedure raises at a port's first piece: recv-message-port raises"
               (condition? (handle-exceptions e e (recv-message-port c))))
  (test "... and the rest of that message comes with recv-message-part" #t
        (let loop ()
          (let-values (((piece type last) (recv-message-part c)))
            (or last (loop)))))
  (test "... then the connection goes on" "on" (message-data (echo c "on")))
  (finish c))

;; The close ends the stream.
(let ((c (ws-connect (url "/close/4000"))))
  (test "the server's close: recv-message-part gives #f #f #f"
        '(#f #f #f) (call-with-values (lambda () (recv-message-part c)) list))
  (test "... the connection is closed with its code" '(closed 4000)
        (list (ws-connection-state c) (ws-connection-close-code c))))
(let ((c (ws-connect (url "/close/4001"))))
  (test "the server's close: recv-message-port gives #f #f"
        '(#f #f) (call-with-values (lambda () (recv-message-port c)) list))
  (test "... closed" 'closed (ws-connection-state c)))
(let ((c (ws-connect (url "/"))))
  (ws-close c)
  (test "after our ws-close, the next piece is the end: #f #f #f"
        '(#f #f #f) (call-with-values (lambda () (recv-message-part c)) list))
  (test "... the close handshake done" '(closed 1000)
        (list (ws-connection-state c) (ws-connection-close-code c))))

;; A close in the middle of a message (websockets fails the connection
;; with 1011 when the generator of its fragments raises): the pieces end
;; without a last one, and a port's read raises rather than end the file.
(let ((c (ws-connect (big-url 300000 "?frame=30000&cut=3"))))
  (let loop ((total 0) (ok #t) (lasts 0))
    (let-values (((piece type last) (recv-message-part c)))
      (if piece
          (loop (+ total (blob-size piece)) (and ok (piece-matches? piece total 'binary))
                (if last (+ lasts 1) lasts))
          (test "a message cut by the server's close: pieces, no last one, then #f"
                '(#t #t 0) (list (> total 0) ok lasts)))))
  (test "... the server's close code" 1011 (ws-connection-close-code c)))
(let ((c (ws-connect (big-url 300000 "?frame=30000&cut=3"))))
  (let-values (((in type) (recv-message-port c)))
    (let ((e (test-exn "... through a port: the read raises, no false end of file"
                       (read-string #f in))))
      (test-assert "... saying so" (and e (contains? (get-condition-property e 'exn 'message "")
                                                     "closed before the end of the message"))))
    (test-exn "... and so does the next read" (read-char in))
    (close-input-port in)
    (test "... closing the port then is quiet; the connection is closed" 'closed
          (ws-connection-state c))))

;; Receives in pieces wait in the scheduler, up to the read timeout.
(let ((c (ws-connect (url "/silent") read-timeout: 1000)))
  (let-values (((e ticks ms) (with-ticker (lambda () (recv-message-part c)))))
    (test-assert "recv-message-part: the read timeout (exn websocket timeout)" (timeout-condition? e))
    (test-assert "... and other threads ran while it waited" (> ticks 0)))
  (let-values (((e ticks ms) (with-ticker (lambda () (recv-message-port c)))))
    (test-assert "recv-message-port: the same" (timeout-condition? e))
    (test-assert "... other threads ran" (> ticks 0)))
  (test "... the connection stays open" 'open (ws-connection-state c))
  (ws-connection-free! c))

;; The limits still apply to messages received in pieces; +inf.0 lifts them.
(let ((c (ws-connect (big-url 2000000) max-message-size: 1000000)))
  (let ((e (test-fail "a message over max-message-size in pieces: a fail"
                      (let loop () (let-values (((p t last) (recv-message-part c))) (unless last (loop)))))))
    (test "... message-too-big" 'message-too-big (and e (get-condition-property e 'fail 'reason #f)))))
(let ((c (ws-connect (big-url 200000) max-frame-size: 65536)))
  (test-fail "a frame over max-frame-size in pieces: a fail"
             (let loop () (let-values (((p t last) (recv-message-part c))) (unless last (loop))))))
(let ((c (ws-connect (big-url 2000000) (list deflate) max-message-size: +inf.0 max-frame-size: +inf.0)))
  (let-values (((total pieces type ok largest) (receive-in-parts c)))
    (test "max-message-size: +inf.0 and max-frame-size: +inf.0: no limit" (list 2000000 #t) (list total ok)))
  (finish c))
(test-exn "max-message-size: -1 is an exn" (ws-connect (url "/") max-message-size: -1))
(test-exn "max-message-size: 1.5 is an exn" (ws-connect (url "/") max-message-size: 1.5))

(let ((c (ws-connect (url "/"))))
  (test-exn "a piece size under 4 is an exn" (recv-message-part c 3))
  (test-exn "... for the port too" (recv-message-port c 0))
  (test-exn "recv-message-part on a non-connection is an exn" (recv-message-part 'nope))
  (finish c))

;; Over TLS, compressed.
(when tls-base
  (let ((c (ws-connect (string-append tls-base "/big/1000000?text") (list deflate) tls-ca-file: tls-ca)))
    (let-values (((total pieces type ok largest) (receive-in-parts c 30000)))
      (test "wss with deflate: a text message in pieces" (list (* 17 (quotient 1000000 17)) 'text #t)
            (list total type ok)))
    (finish c)))

;;; ------------------------------------------------------------------

(printf "~A passed, ~A failed~%" passed failed)
(exit (if (zero? failed) 0 1))
