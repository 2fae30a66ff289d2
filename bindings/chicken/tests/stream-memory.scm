;;;; tests/stream-memory.scm - messages larger than the default limit,
;;;; received in pieces in bounded memory.
;;;
;;;   csi -s tests/stream-memory.scm ws://127.0.0.1:PORT
;;;
;;; The server is tests/servers/echo_server.py --deflate (see run-tests.sh):
;;; its /big/N sends a message of N bytes made as it goes (binary: byte i is
;;; i mod 251; ?text: a 17-byte unit of UTF-8 repeated). A process of its
;;; own, so that its peak resident size (VmHWM) says what receiving took:
;;; 128 MiB binary without compression and 128 MiB text with
;;; permessage-deflate, twice the default max-message-size (lifted with
;;; +inf.0), through recv-message-part and recv-message-port, each byte
;;; checked, must leave the peak within 32 MiB of what it was after the
;;; connect. The last line of output is "N passed, N failed"; the exit
;;; status is 1 if anything failed.

(import scheme
        (chicken base) (chicken blob) (chicken format) (chicken io) (chicken irregex)
        (chicken memory) (chicken process-context) (chicken process signal)
        srfi-4
        ws-client)

(define args (command-line-arguments))
(when (null? args)
  (print "usage: csi -s tests/stream-memory.scm ws://127.0.0.1:PORT")
  (exit 2))
(define (url path) (string-append (car args) path))

(define passed 0)
(define failed 0)

(set-signal-handler! signal/term
  (lambda (_)
    (printf "FAIL: stopped by the watchdog (~A passed, ~A failed)~%" passed failed)
    (exit 2)))

(define (test name expected actual)
  (if (equal? expected actual)
      (set! passed (+ passed 1))
      (begin
        (set! failed (+ failed 1))
        (printf "FAIL ~A: expected ~S, got ~S~%" name expected actual)))
  (flush-output))

;; The process's peak resident size, in KiB.
(define (peak-kib)
  (let ((m (irregex-search "VmHWM:[ \t]*([0-9]+) kB"
                           (with-input-from-file "/proc/self/status" read-string))))
    (string->number (irregex-match-substring m 1))))

(define size (* 128 1024 1024))
(define text-unit "a✓é🙂 wörld")    ; 17 bytes
(define text-size (* 17 (quotient size 17)))

;; What the message holds at `offset', `len' bytes (len <= 100000).
(define binary-pattern
  (let ((b (make-blob (+ 100000 251))))
    (do ((i 0 (+ i 1))) ((= i (blob-size b)) b)
      (move-memory! (u8vector (modulo i 251)) b 1 0 i))))
(define text-pattern
  (let ((s (make-string (* 17 (+ (quotient 100000 17) 2)))))
    (do ((i 0 (+ i 17))) ((= i (string-length s)) s)
      (move-memory! text-unit s 17 0 i))))

(define (expected offset len text?)
  (if text?
      (let ((start (modulo offset 17)))
        (substring text-pattern start (+ start len)))
      (let ((b (make-blob len)))
        (move-memory! binary-pattern b len (modulo offset 251) 0)
        b)))

(define deflate (permessage-deflate '(())))

(define (connect path compressed?)
  (ws-connect (url path) (if compressed? (list deflate) '())
              max-message-size: +inf.0 max-frame-size: +inf.0 read-timeout: 60000))

;; The message in pieces of 64 KiB: (bytes all-matched?).
(define (by-parts c text?)
  (let loop ((total 0) (ok #t))
    (let-values (((piece type last) (recv-message-part c)))
      (let* ((len (if text? (string-length piece) (blob-size piece)))
             (ok (and ok (equal? piece (expected total len text?)))))
        (if last (list (+ total len) ok) (loop (+ total len) ok))))))

;; The message through a port, read 100000 bytes at a time.
(define (by-port c text?)
  (let-values (((in type) (recv-message-port c)))
    (let loop ((total 0) (ok #t))
      (let ((s (read-string 100000 in)))
        (if (eof-object? s)
            (begin (close-input-port in) (list total ok))
            (loop (+ total (string-length s))
                  (and ok (let ((e (expected total (string-length s) text?)))
                            (string=? s (if text? e (blob->string e)))))))))))

(define (finish c)
  (ws-close c)
  (let loop () (when (recv-message c) (loop))))

(let* ((c1 (connect (sprintf "/big/~A" size) #f))
       (c2 (connect (sprintf "/big/~A?text" size) #t))
       (c3 (connect (sprintf "/big/~A" size) #t))
       (c4 (connect (sprintf "/big/~A?text" size) #f))
       (base (peak-kib)))
  (test "128 MiB binary, recv-message-part" (list size #t) (by-parts c1 #f))
  (test "128 MiB text with deflate, recv-message-part" (list text-size #t) (by-parts c2 #t))
  (test "128 MiB binary with deflate, recv-message-port" (list size #t) (by-port c3 #f))
  (test "128 MiB text, recv-message-port" (list text-size #t) (by-port c4 #t))
  (let ((grown (- (peak-kib) base)))
    (printf "peak resident size: ~A KiB after the connects, ~A KiB more after 512 MiB in pieces~%"
            base grown)
    (test "the peak resident size grew by less than 32 MiB" #t (< grown (* 32 1024))))
  (for-each finish (list c1 c2 c3 c4)))

(printf "~A passed, ~A failed~%" passed failed)
(exit (if (zero? failed) 0 1))
