;;;; An Autobahn Testsuite testee: runs every case of a fuzzingserver,
;;;; echoing each message back, then asks the server to write its reports.
;;;;
;;;;   autobahn-client [BASE-URI] [AGENT]   (default ws://127.0.0.1:9001 ws-client-chicken)
;;;;
;;;; Every connection offers permessage-deflate, as ws-client 1.0's own Autobahn
;;;; client does, so that sections 12 and 13 run. The model is
;;;; examples-c/autobahn_client.c.

(import scheme
        (chicken base) (chicken condition) (chicken format) (chicken process-context)
        ws-client)

(define args (command-line-arguments))
(define base (if (pair? args) (car args) "ws://127.0.0.1:9001"))
(define agent (if (and (pair? args) (pair? (cdr args))) (cadr args) "ws-client-chicken"))

;; Accept the server's window and context-takeover requests; compress fast,
;; since the suite checks correctness, not ratios.
(define extensions
  (list (permessage-deflate '((("client_no_context_takeover" . #t)
                               ("client_max_window_bits" . #t))))))

(define (connect uri)
  (let ((c (ws-connect uri extensions '() compression-level: 1)))
    (if (ws-connection? c)
        c
        (begin (fprintf (current-error-port) "autobahn-client: ~A: HTTP ~A~%"
                        uri (ws-response-status c))
               #f))))

(define (report uri e)
  (fprintf (current-error-port) "autobahn-client: ~A: ~A~%" uri
           (if (condition? e) (get-condition-property e 'exn 'message "?") e)))

;; Connect and echo every message until the server closes; errors end the
;; case (the fuzzingserver judges the outcome).
(define (run-and-wait uri)
  (handle-exceptions e (report uri e)
    (let ((c (connect uri)))
      (when c
        (handle-exceptions e (report uri e)
          (recv-message-loop c (lambda (m) (send-message c m))))
        (ws-connection-free! c)))))

(define (case-count)
  (let* ((uri (sprintf "~A/getCaseCount" base))
         (c (connect uri)))
    (and c
         (let* ((m (recv-message c))
                (n (and m (string->number (message-data m)))))
           (recv-message-loop c (lambda (m) #f))   ; the server's close
           (ws-connection-free! c)
           n))))

(let ((n (case-count)))
  (unless n
    (fprintf (current-error-port) "autobahn-client: cannot get the case count~%")
    (exit 1))
  (printf "autobahn-client: running ~A cases~%" n)
  (do ((i 1 (+ i 1))) ((> i n))
    (run-and-wait (sprintf "~A/runCase?case=~A&agent=~A" base i agent)))
  (run-and-wait (sprintf "~A/updateReports?agent=~A" base agent)))
