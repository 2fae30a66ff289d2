;;;; tests/reconnect.scm - the ws-client egg's retry policy, ws-connect's
;;;; retry: and ws-reconnect-loop against a local echo server.
;;;
;;;   csi -s tests/reconnect.scm ws://127.0.0.1:PORT [wss://localhost:PORT2 CA.pem]
;;;
;;; The server is tests/servers/echo_server.py (see run-tests.sh): its
;;; /close/CODE closes at once with CODE, /drop sends "hello" and cuts TCP,
;;; /status/N answers HTTP N. Delays are set small; bounds below a delay
;;; are exact, bounds above it loose (two seconds more), there only to see
;;; that a default of seconds was not used. The last line of output is
;;; "N passed, N failed"; the exit status is 1 if anything failed.

(import scheme
        (chicken base) (chicken condition) (chicken format) (chicken process-context)
        (chicken process signal) (chicken tcp) (chicken time)
        ws-client)

(define args (command-line-arguments))
(when (null? args)
  (print "usage: csi -s tests/reconnect.scm ws://127.0.0.1:PORT [wss://localhost:PORT2 CA.pem]")
  (exit 2))
(define (url path) (string-append (car args) path))
(define tls-base (and (= (length args) 3) (cadr args)))

(define passed 0)
(define failed 0)

(set-signal-handler! signal/term
  (lambda (_)
    (printf "FAIL: stopped by the watchdog (~A passed, ~A failed)~%" passed failed)
    (exit 2)))

(define (fail! name fmt . rest)
  (set! failed (+ failed 1))
  (printf "FAIL ~A: ~?~%" name fmt rest)
  (flush-output))

(define (check name expected thunk)
  (let ((result (handle-exceptions e
                    (list 'raised (if (condition? e) (condition->list e) e))
                  (list 'value (thunk)))))
    (cond ((not (eq? (car result) 'value))
           (fail! name "expected ~S, raised ~S" expected (cadr result)))
          ((equal? expected (cadr result)) (set! passed (+ passed 1)))
          (else (fail! name "expected ~S, got ~S" expected (cadr result))))))

(define-syntax test
  (syntax-rules () ((_ name expected expr) (check name expected (lambda () expr)))))

(define-syntax test-assert
  (syntax-rules () ((_ name expr) (check name #t (lambda () (and expr #t))))))

;; The condition (thunk) raises, or #f (a failure) if it returns.
(define (raised name thunk)
  (call/cc
   (lambda (k)
     (with-exception-handler
      (lambda (e) (k e))
      (lambda () (let ((v (thunk))) (fail! name "expected a condition, got ~S" v) #f))))))

(define (kinds? c . kinds)
  (and (condition? c)
       (let loop ((l kinds))
         (or (null? l) (and ((condition-predicate (car l)) c) (loop (cdr l)))))))

(define (now) (current-process-milliseconds))

;; A retry? that counts its calls and gives up (#f) at the `limit'th.
(define (counting limit)
  (let ((calls 0))
    (values (lambda () calls)
            (lambda (x)
              (set! calls (+ calls 1))
              (and (< calls limit) (ws-retryable? x))))))

(define backoff-names
  '("WSCLIENT_BACKOFF_INITIAL_DELAY" "WSCLIENT_BACKOFF_MIN_DELAY" "WSCLIENT_BACKOFF_MAX_DELAY"
    "WSCLIENT_BACKOFF_FACTOR" "WEBSOCKETS_BACKOFF_INITIAL_DELAY" "WEBSOCKETS_BACKOFF_MIN_DELAY"
    "WEBSOCKETS_BACKOFF_MAX_DELAY" "WEBSOCKETS_BACKOFF_FACTOR"))
(for-each unset-environment-variable! backoff-names)

(define refused-url
  (let* ((l (tcp-listen 0 4 "127.0.0.1"))
         (port (tcp-listener-port l)))
    (tcp-close l)
    (sprintf "ws://127.0.0.1:~A/" port)))

;;; ------------------------------------------------------------------
;;; The policy: websockets' defaults, the environment, the keywords

(test "the defaults are websockets' (milliseconds)"
      "#<ws-retry-policy 5000 3100 x1.618 90000 ms>"
      (sprintf "~A" (make-ws-retry-policy)))
(set-environment-variable! "WEBSOCKETS_BACKOFF_INITIAL_DELAY" "0.25")
(set-environment-variable! "WEBSOCKETS_BACKOFF_MIN_DELAY" "0.5")
(set-environment-variable! "WEBSOCKETS_BACKOFF_FACTOR" "3")
(set-environment-variable! "WSCLIENT_BACKOFF_MIN_DELAY" "0.2")
(set-environment-variable! "WSCLIENT_BACKOFF_MAX_DELAY" "")
(test "WEBSOCKETS_BACKOFF_* are read in seconds; WSCLIENT_BACKOFF_* win; empty is unset"
      "#<ws-retry-policy 250.0 200.0 x3 90000 ms>"
      (sprintf "~A" (make-ws-retry-policy)))
(test "keywords win over the environment"
      "#<ws-retry-policy 1 2 x4 8 ms>"
      (sprintf "~A" (make-ws-retry-policy initial-delay: 1 min-delay: 2 factor: 4 max-delay: 8)))
(set-environment-variable! "WSCLIENT_BACKOFF_FACTOR" "fast")
(test-assert "a variable that is not a number is an error naming it"
             (let ((c (raised "bad variable" make-ws-retry-policy)))
               (and (kinds? c 'exn 'websocket)
                    (equal? (get-condition-property c 'exn 'message)
                            "WSCLIENT_BACKOFF_FACTOR must be a number >= 0"))))
(for-each unset-environment-variable! backoff-names)
(test-assert "retry: takes #f, #t or a policy"
             (kinds? (raised "retry: 5" (lambda () (ws-connect (url "/") retry: 5))) 'exn 'websocket))

;;; ------------------------------------------------------------------
;;; ws-retryable?: what is worth another attempt

(let ((r503 (ws-connect (url "/status/503")))
      (r403 (ws-connect (url "/status/403")))
      (r501 (ws-connect (url "/status/501"))))
  (test "a 503 answer is retryable" '(503 #t) (list (ws-response-status r503) (ws-retryable? r503)))
  (test "a 403 answer is not" '(403 #f) (list (ws-response-status r403) (ws-retryable? r403)))
  (test "nor a 501" #f (ws-retryable? r501)))
(test "a refused connect is retryable" #t
      (ws-retryable? (raised "refused" (lambda () (ws-connect refused-url)))))
(test "a bad URI is not" #f
      (ws-retryable? (raised "bad URI" (lambda () (ws-connect "http://127.0.0.1/")))))
(test "a bad argument is not" #f
      (ws-retryable? (raised "bad argument" (lambda () (ws-connect (url "/") max-redirects: -1)))))
(test "other values are not" #f (ws-retryable? 'anything))
(let ((c (ws-connect (url "/close/1012"))))
  (test-assert "an open connection is not retryable" (not (ws-retryable? c)))
  (recv-message c)
  (test "a connection the server closed with 1012 is" '(1012 #t)
        (list (ws-connection-close-code c) (ws-retryable? c))))
(let ((c (ws-connect (url "/close/1008"))))
  (recv-message c)
  (test "one closed with 1008 (policy violation) is not" '(1008 #f)
        (list (ws-connection-close-code c) (ws-retryable? c))))
(when tls-base
  (let-values (((calls retry?) (counting 5)))
    (let ((c (raised "TLS" (lambda () (ws-connect tls-base retry: (make-ws-retry-policy
                                                                     initial-delay: 10 min-delay: 10
                                                                     retry?: retry?))))))
      (test-assert "a certificate that does not verify is raised..."
                   (kinds? c 'exn 'websocket 'i/o 'net))
      (test "... after one attempt" 1 (calls)))))

;;; ------------------------------------------------------------------
;;; ws-connect's retry:

(let-values (((calls retry?) (counting 4)))
  ;; Delays 0 (random x 0), 100, then 150 (the maximum).
  (let* ((policy (make-ws-retry-policy initial-delay: 0 min-delay: 100 factor: 2 max-delay: 150
                                       retry?: retry?))
         (t0 (now))
         (r (ws-connect (url "/status/503") retry: policy))
         (elapsed (- (now) t0)))
    (test "retry: tries a 503 again until retry? says no, then returns the answer"
          '(503 4) (list (ws-response-status r) (calls)))
    (test-assert (sprintf "... waiting 0 + 100 + 150 ms in all (~A ms)" elapsed)
                 (and (>= elapsed 250) (< elapsed 2250)))))
(let-values (((calls retry?) (counting 10)))
  (test "retry: returns a 403 at once" '(403 1)
        (list (ws-response-status (ws-connect (url "/status/403") retry: (make-ws-retry-policy
                                                                           retry?: retry?)))
              (calls))))
(let-values (((calls retry?) (counting 3)))
  (let ((c (raised "refused, retried" (lambda ()
                                        (ws-connect refused-url
                                                    retry: (make-ws-retry-policy
                                                            initial-delay: 0 min-delay: 10
                                                            max-delay: 10 retry?: retry?))))))
    (test-assert "retry: tries a refused connect again, then raises its condition"
                 (kinds? c 'exn 'websocket 'i/o 'net))
    (test "... after 3 attempts" 3 (calls))))
(let ((c (ws-connect (url "/") retry: #t)))
  (test "retry: #t with a server that answers: the connection" 'open (ws-connection-state c))
  (ws-connection-free! c))

;;; ------------------------------------------------------------------
;;; ws-reconnect-loop

(set-environment-variable! "WSCLIENT_BACKOFF_INITIAL_DELAY" "0.05")
(let* ((n 0)
       (codes '())
       (t0 (now))
       (r (ws-reconnect-loop (url "/close/1012")
                             (lambda (c)
                               (set! n (+ n 1))
                               (if (< n 4)
                                   (begin (recv-message c)
                                          (set! codes (cons (ws-connection-close-code c) codes)))
                                   'done))))
       (elapsed (- (now) t0)))
  (test "after a 1012 close the loop connects again (3 times here)..." '(done 4 (1012 1012 1012))
        (list r n codes))
  (test-assert (sprintf "... each time after up to WSCLIENT_BACKOFF_INITIAL_DELAY (50 ms; ~A ms in all)"
                        elapsed)
               (< elapsed (+ 150 2000))))
(unset-environment-variable! "WSCLIENT_BACKOFF_INITIAL_DELAY")

(let* ((n 0)
       (errors '())
       (policy (make-ws-retry-policy initial-delay: 50))
       (r (ws-reconnect-loop (url "/drop")
                             (lambda (c)
                               (set! n (+ n 1))
                               (if (< n 4)
                                   (begin
                                     (recv-message c) ; "hello"
                                     (handle-exceptions e
                                         (begin (set! errors (cons (kinds? e 'websocket 'net) errors))
                                                (abort e))
                                       (recv-message c)))
                                   'done))
                             retry: policy)))
  (test "after a lost connection (the handler raised) the loop connects again"
        '(done 4 (#t #t #t)) (list r n errors)))

(let* ((n 0)
       (r (ws-reconnect-loop (url "/close/1000")
                             (lambda (c) (set! n (+ n 1)) (recv-message c) (ws-connection-close-code c))
                             retry: (make-ws-retry-policy initial-delay: 10))))
  (test "a normal close (1000) ends the loop with the handler's value" '(1000 1) (list r n)))

(let-values (((calls retry?) (counting 10)))
  (let ((r (ws-reconnect-loop (url "/status/403") (lambda (c) 'not-reached)
                              retry: (make-ws-retry-policy retry?: retry?))))
    (test "a 403 ends the loop: it returns the answer" '(403 1)
          (list (and (ws-response? r) (ws-response-status r)) (calls)))))

(let* ((conn #f)
       (c (raised "handler error"
                  (lambda ()
                    (ws-reconnect-loop (url "/")
                                       (lambda (c) (set! conn c) (error "boom"))
                                       retry: (make-ws-retry-policy initial-delay: 10))))))
  (test "an error of the handler is raised..." "boom" (get-condition-property c 'exn 'message))
  (test "... the connection closed" 'closed (ws-connection-state conn)))

(let* ((conn #f)
       (r (call/cc (lambda (k)
                     (ws-reconnect-loop (url "/")
                                        (lambda (c)
                                          (set! conn c)
                                          (send-text-message c "one")
                                          (k (message-data (recv-message c)))))))))
  (test "a handler may leave with a continuation..." "one" r)
  (test "... the connection closed" 'closed (ws-connection-state conn)))

(let ((conn #f))
  (test "a handler that returns with the connection open ends the loop" 'mine
        (ws-reconnect-loop (url "/") (lambda (c) (set! conn c) 'mine)))
  (test "... which closes the connection" 'closed (ws-connection-state conn)))

(test-assert "ws-reconnect-loop needs a policy (retry: #f is an error)"
             (kinds? (raised "retry: #f" (lambda () (ws-reconnect-loop (url "/") void retry: #f)))
                     'exn 'websocket))

(printf "~A passed, ~A failed~%" passed failed)
(exit (if (zero? failed) 0 1))
