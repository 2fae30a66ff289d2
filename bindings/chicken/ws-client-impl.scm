;;;; ws-client-impl.scm - included by ws-client.scm (inside the module).
;;;
;;; Handles: every C object is wrapped in a record whose first field is the
;;; pointer (#f once freed). Owned pointers get a finalizer that frees them;
;;; an explicit free clears the field first, so the finalizer is a no-op and
;;; nothing is freed twice. Frames borrowed from a message keep the message
;;; record alive through their `owner' field and are never freed themselves.

;;; ------------------------------------------------------------------
;;; Result codes

(define ws-ok (foreign-value "WS_OK" integer32))
(define ws-http-response (foreign-value "WS_HTTP_RESPONSE" integer32))
(define ws-closed (foreign-value "WS_CLOSED" integer32))
(define ws-err-would-block (foreign-value "WS_ERR_WOULD_BLOCK" integer32))
(define ws-err-timeout (foreign-value "WS_ERR_TIMEOUT" integer32))
(define ws-err-proxy (foreign-value "WS_ERR_PROXY" integer32))
(define ws-want-read (foreign-value "WS_WANT_READ" unsigned-integer32))
(define ws-want-write (foreign-value "WS_WANT_WRITE" unsigned-integer32))
;; Codes of a failed or lost connection (besides the timeout).
(define net-error-codes
  (list (foreign-value "WS_ERR_IO" integer32)
        (foreign-value "WS_ERR_RESOLVE" integer32)
        (foreign-value "WS_ERR_CONNECT" integer32)
        (foreign-value "WS_ERR_CONNECTION_LOST" integer32)
        (foreign-value "WS_ERR_TLS" integer32)
        (foreign-value "WS_ERR_TLS_VERIFY" integer32)))
(define ws-state-open (foreign-value "WS_STATE_OPEN" integer32))
(define ws-state-closing (foreign-value "WS_STATE_CLOSING" integer32))
(define ws-message-text (foreign-value "WS_MESSAGE_TEXT" integer32))
(define ws-message-binary (foreign-value "WS_MESSAGE_BINARY" integer32))
(define ws-send-more (foreign-value "WS_SEND_MORE" unsigned-integer32))

(define %result-string (foreign-lambda c-string "ws_result_string" integer32))
(define %result-is-fail (foreign-lambda bool "ws_result_is_fail" integer32))
(define %last-error-message (foreign-lambda c-string "ws_last_error_message"))
(define %last-error-close-code (foreign-lambda unsigned-short "ws_last_error_close_code"))
(define %version (foreign-lambda c-string "ws_version"))

(define (wsclient-version) (%version))

;;; ------------------------------------------------------------------
;;; Conditions
;;;
;;; (exn websocket)       : `message' (and exn's `location', `arguments');
;;;                         websocket's `code' is the C result code or #f.
;;; (exn websocket fail)  : also `reason' (a close-reason symbol), in both the
;;;                         `fail' and `websocket' components; fail's `message'.
;;; (exn websocket i/o net [timeout]) : a failed or lost connection (TCP, DNS,
;;;                         TLS, I/O, timeout), as ws-client 1.0's tcp-connect gave.

(define (ws-exn loc msg #!optional (args '()) (code #f))
  (abort
   (apply make-composite-condition
          (make-property-condition 'exn 'location loc 'message msg 'arguments args)
          (make-property-condition 'websocket 'message msg 'code code)
          (net-components code))))

;; A failed or lost connection is also (exn i/o net), as ws-client 1.0's
;; tcp-connect and port errors were (a timeout also has `timeout'), so code
;; written for 1.0 that catches those still does.
(define (net-components code)
  (cond ((not code) '())
        ((fx= code ws-err-timeout)
         (list (make-property-condition 'i/o) (make-property-condition 'net)
               (make-property-condition 'timeout)))
        ((memv code net-error-codes)
         (list (make-property-condition 'i/o) (make-property-condition 'net)))
        (else '())))

(define (ws-fail loc reason msg #!optional (code #f))
  (abort
   (make-composite-condition
    (make-property-condition 'exn 'location loc 'message msg 'arguments '())
    (make-property-condition 'websocket 'message msg 'code code 'reason reason)
    (make-property-condition 'fail 'reason reason 'message msg))))

;; The detail of the last failing call on this thread, read at once (no
;; green thread can run in between: interrupts are disabled in this module).
(define (error-detail rc)
  (let ((m (%last-error-message)))
    (values (if (and m (not (string=? m ""))) m (%result-string rc))
            (%last-error-close-code))))

(define (close-code->reason/default code)
  (let ((s (and (fx> code 0) (%close-code->reason code))))
    (if s (string->symbol s) 'protocol-error)))

;; Raise the condition for the negative result `rc' of the call just made.
(define (raise-result loc rc #!optional (args '()))
  (let-values (((msg close-code) (error-detail rc)))
    (if (%result-is-fail rc)
        (ws-fail loc (close-code->reason/default close-code) msg rc)
        (ws-exn loc msg args rc))))

(define (check-rc loc rc #!optional (args '()))
  (if (fx< rc 0) (raise-result loc rc args) rc))

;;; ------------------------------------------------------------------
;;; Argument checks

(define (check-type loc ok? x what)
  (unless (ok? x) (ws-exn loc (string-append "expected " what) (list x))))

(define (check-range loc x lo hi what)
  (unless (and (fixnum? x) (fx<= lo x) (fx<= x hi))
    (ws-exn loc (sprintf "~A must be an integer in ~A..~A" what lo hi) (list x))))

;; Bytes to hand to C as (scheme-pointer, size_t): strings and blobs as
;; they are, u8vectors through their underlying blob (no copy).
(define (bytes-object loc x)
  (cond ((string? x) x)
        ((blob? x) x)
        ((u8vector? x) (u8vector->blob/shared x))
        (else (ws-exn loc "expected a string, blob or u8vector" (list x)))))

(define (bytes-size b)
  (if (string? b) (string-length b) (blob-size b)))

(define (c-string-arg loc x what)
  (unless (string? x) (ws-exn loc (string-append what " must be a string") (list x)))
  (let loop ((i 0))
    (when (fx< i (string-length x))
      (when (char=? (string-ref x i) #\nul)
        (ws-exn loc (string-append what " must not contain NUL") (list x)))
      (loop (fx+ i 1))))
  x)

;; Copy `n' bytes at C pointer `p' into a fresh object made by (make n).
(define (copy-out make p n)
  (let ((v (make n)))
    (when (and p (> n 0)) (move-memory! p v n))
    v))

(define (string-downcase* s)
  (list->string (map char-downcase (string->list s))))

;;; ------------------------------------------------------------------
;;; Opcodes, optypes, reasons and close codes (the C library's tables,
;;; which are ws-client 1.0's)

(define %opcode->optype (foreign-lambda c-string "ws_opcode_to_optype" unsigned-byte))
(define %optype->opcode (foreign-lambda integer32 "ws_optype_to_opcode" c-string))
(define %reason->close-code (foreign-lambda integer32 "ws_reason_to_close_code" c-string))
(define %close-code->reason (foreign-lambda c-string "ws_close_code_to_reason" unsigned-short))

(define (opcode->optype o)
  (let ((s (and (fixnum? o) (fx<= 0 o) (fx<= o 255) (%opcode->optype o))))
    (if s
        (string->symbol s)
        (ws-exn 'opcode->optype "unrecognised opcode" (list o)))))

(define (optype->opcode t)
  (let ((o (if (symbol? t) (%optype->opcode (symbol->string t)) -1)))
    (if (fx>= o 0)
        o
        (ws-exn 'optype->opcode "unrecognised optype" (list t)))))

(define (reason->close-code* loc r)
  (let ((c (if (symbol? r) (%reason->close-code (symbol->string r)) -1)))
    (if (fx>= c 0)
        c
        (ws-exn loc (sprintf "unsupported reason for connection close ~A" r) (list r)))))

;; As in ws-client 1.0: the code as a u8vector (network order), ready for a
;; close frame's payload. A fresh vector each time.
(define (reason->close-code r)
  (let ((c (reason->close-code* 'reason->close-code r)))
    (u8vector (arithmetic-shift c -8) (bitwise-and c 255))))

(define (close-code->reason c)
  (let ((s (and (fixnum? c) (fx<= 0 c) (fx<= c 65535) (%close-code->reason c))))
    (if s
        (string->symbol s)
        (ws-exn 'close-code->reason (sprintf "unsupported close code ~A" c) (list c)))))

;;; ------------------------------------------------------------------
;;; Foreign types: a record converts to its live pointer, or signals

(define-record-type ws-connection
  (%make-ws-connection ptr uri compression subprotocol state peer-code peer-reason
                       read-timeout write-timeout close-timeout waiters
                       id trace trace-queue stats partial)
  ws-connection?
  (ptr conn-ptr conn-ptr-set!)
  (uri conn-uri)
  ;; what was agreed, set when the connect ends (see `open-connection')
  (compression conn-compression conn-compression-set!)
  (subprotocol conn-subprotocol conn-subprotocol-set!)
  (state conn-state conn-state-set!)              ; cached once released
  (peer-code conn-peer-code conn-peer-code-set!)
  (peer-reason conn-peer-reason conn-peer-reason-set!)
  ;; milliseconds, #f: none (the egg's own deadlines: see "Waiting")
  (read-timeout conn-read-timeout)
  (write-timeout conn-write-timeout)
  (close-timeout conn-close-timeout)
  (waiters conn-waiters conn-waiters-set!)      ; green threads in `await'
  ;; what it did (see "Trace events and counters")
  (id conn-id)                                  ; ws_conn_id
  (trace conn-trace conn-trace-set!)            ; the trace: procedure, or #f
  (trace-queue conn-trace-queue conn-trace-queue-set!) ; its C event queue, or #f
  (stats conn-stats conn-stats-set!)            ; the counters, read at release
  ;; a message received in pieces (see "Messages in pieces"): #f between
  ;; messages, else (reader . type)
  (partial conn-partial conn-partial-set!))

(define-record-type ws-message
  (%make-ws-message ptr frames)
  ws-message?
  (ptr message-ptr message-ptr-set!)
  (frames message-frames-cache message-frames-cache-set!))

(define-record-type ws-frame
  (%make-ws-frame ptr owner)
  ws-frame?
  (ptr frame-ptr frame-ptr-set!)
  (owner frame-owner))                   ; #f: owned; a ws-message: borrowed

(define-record-type ws-response
  (%make-ws-response ptr)
  ws-response?
  (ptr response-ptr response-ptr-set!))

(define-record-type ws-extension
  (%make-ws-extension name offers)
  ws-extension?
  (name extension-name)
  (offers extension-offers))             ; list of "a=b; c" strings

(define (live-pointer loc ok? get x what)
  (cond ((not (ok? x)) (ws-exn loc (string-append "expected a " what) (list x)))
        ((get x))
        (else (ws-exn loc (string-append "the " what " has been freed"
                                         (if (ws-connection? x) " (connection closed)" ""))
                      (list x)))))

(define (unwrap-conn c) (live-pointer #f ws-connection? conn-ptr c "ws-connection"))
(define (unwrap-message m) (live-pointer #f ws-message? message-ptr m "ws-message"))
(define (unwrap-frame f) (live-pointer #f ws-frame? frame-ptr f "ws-frame"))
(define (unwrap-response r) (live-pointer #f ws-response? response-ptr r "ws-response"))

(define-foreign-type ws-conn (nonnull-c-pointer (struct "ws_conn")) unwrap-conn)
(define-foreign-type ws-msg (nonnull-c-pointer (struct "ws_message")) unwrap-message)
(define-foreign-type ws-frm (nonnull-c-pointer (struct "ws_frame")) unwrap-frame)
(define-foreign-type ws-resp (nonnull-c-pointer (struct "ws_response")) unwrap-response)
;; Raw pointers, for the calls that create and free.
(define-foreign-type ws-conn* (c-pointer (struct "ws_conn")))
(define-foreign-type ws-msg* (c-pointer (struct "ws_message")))
(define-foreign-type ws-frm* (c-pointer (struct "ws_frame")))
(define-foreign-type ws-resp* (c-pointer (struct "ws_response")))
(define-foreign-type ws-opts* (c-pointer (struct "ws_options")))

;;; ------------------------------------------------------------------
;;; Memory the GC cannot see
;;;
;;; A received message is a small record over a C buffer of any size. So
;;; that unreferenced messages do not pile up between major collections,
;;; estimate what received messages hold in C and force a major GC (which
;;; runs finalizers) every `gc-threshold' bytes of it. The estimate is
;;; generous: a buffer may have grown to twice the data; libwsclient
;;; inflates into a buffer of max(16 KiB, 4 x the compressed size) that
;;; the message keeps, as well as the compressed frames.

(define gc-threshold (* 64 1024 1024))

(define (c-bytes-held size compressed?)
  (if compressed?
      (+ (* 5 size) 16384)
      (+ (* 2 size) 512)))
(define unaccounted-bytes 0)

(define (account-bytes! n)
  (set! unaccounted-bytes (+ unaccounted-bytes n))
  (when (> unaccounted-bytes gc-threshold)
    (set! unaccounted-bytes 0)
    (gc #t)))

;;; ------------------------------------------------------------------
;;; Messages

(define %message-new (foreign-lambda ws-msg* "ws_message_new" integer32 scheme-pointer size_t))
(define %message-free (foreign-lambda void "ws_message_free" ws-msg*))
(define %message-type (foreign-lambda integer32 "ws_message_type" ws-msg))
(define %message-data (foreign-lambda c-pointer "ws_message_data" ws-msg))
(define %message-size (foreign-lambda size_t "ws_message_size" ws-msg))
(define %message-compressed (foreign-lambda bool "ws_message_compressed" ws-msg))
(define %message-frame-count (foreign-lambda size_t "ws_message_frame_count" ws-msg))
(define %message-frame (foreign-lambda ws-frm* "ws_message_frame" ws-msg size_t))

(define (free-message! m)
  (let ((p (message-ptr m)))
    (when p
      (message-ptr-set! m #f)
      (%message-free p))))

(define (wrap-message p)
  (set-finalizer! (%make-ws-message p #f) free-message!))

(define (check-message loc m)
  (live-pointer loc ws-message? message-ptr m "ws-message"))

;; (make-ws-message TYPE DATA): TYPE is 'text or 'binary; DATA a string,
;; blob or u8vector (text must be UTF-8). For send-message.
(define (make-ws-message type data)
  (let* ((t (case type
              ((text) ws-message-text)
              ((binary) ws-message-binary)
              (else (ws-exn 'make-ws-message "message type must be 'text or 'binary"
                            (list type)))))
         (b (bytes-object 'make-ws-message data))
         (p (%message-new t b (bytes-size b))))
    (if p
        (wrap-message p)
        (let-values (((msg _) (error-detail -2)))
          (ws-exn 'make-ws-message msg (list type data))))))

(define (message-type m)
  (check-message 'message-type m)
  (if (fx= (%message-type m) ws-message-text) 'text 'binary))

(define (message-size m)
  (check-message 'message-size m)
  (%message-size m))

(define (message-data* m)
  (check-message 'message-data* m)
  (copy-out make-u8vector (%message-data m) (%message-size m)))

;; A string for a text message, a blob for a binary one.
(define (message-data m)
  (check-message 'message-data m)
  (copy-out (if (fx= (%message-type m) ws-message-text) make-string make-blob)
            (%message-data m) (%message-size m)))

(define (message-compressed? m)
  (check-message 'message-compressed? m)
  (%message-compressed m))

;; The frames the message was assembled from (as received: for a
;; compressed message their payloads are the compressed bytes); '() for a
;; message made with make-ws-message.
(define (message-frames m)
  (check-message 'message-frames m)
  (or (message-frames-cache m)
      (let* ((n (%message-frame-count m))
             (frames (let loop ((i (- n 1)) (acc '()))
                       (if (< i 0)
                           acc
                           (loop (- i 1)
                                 (cons (%make-ws-frame (%message-frame m i) m) acc))))))
        (message-frames-cache-set! m frames)
        frames)))

(define-record-printer (ws-message m out)
  (if (message-ptr m)
      (fprintf out "#<ws-message ~A ~A bytes>" (message-type m) (message-size m))
      (fprintf out "#<ws-message freed>")))

;;; ------------------------------------------------------------------
;;; Frames

(define %frame-new
  (foreign-lambda ws-frm* "ws_frame_new" bool unsigned-byte unsigned-byte scheme-pointer size_t))
(define %frame-free (foreign-lambda void "ws_frame_free" ws-frm*))
(define %frame-fin (foreign-lambda bool "ws_frame_fin" ws-frm))
(define %frame-rsv (foreign-lambda unsigned-byte "ws_frame_rsv" ws-frm))
(define %frame-rsv-bit (foreign-lambda bool "ws_frame_rsv_bit" ws-frm unsigned-byte))
(define %frame-opcode (foreign-lambda unsigned-byte "ws_frame_opcode" ws-frm))
(define %frame-mask (foreign-lambda bool "ws_frame_mask" ws-frm))
(define %frame-payload-length (foreign-lambda unsigned-integer64 "ws_frame_payload_length" ws-frm))
(define %frame-payload-data (foreign-lambda c-pointer "ws_frame_payload_data" ws-frm))

(define (free-frame! f)
  (let ((p (frame-ptr f)))
    (when (and p (not (frame-owner f)))
      (frame-ptr-set! f #f)
      (%frame-free p))))

(define (wrap-owned-frame p)
  (set-finalizer! (%make-ws-frame p #f) free-frame!))

(define (check-frame loc f)
  (live-pointer loc ws-frame? frame-ptr f "ws-frame"))

;; (make-ws-frame FIN RSV OPCODE MASK LENGTH DATA), ws-client 1.0's constructor:
;; OPCODE an integer 0..15 or an optype symbol; the frame's payload is the
;; first LENGTH bytes of DATA (a u8vector, blob or string). MASK is accepted
;; for compatibility: a client always masks what it sends.
(define (make-ws-frame fin rsv op mask len data)
  (let ((opcode (if (symbol? op) (optype->opcode op) op))
        (b (bytes-object 'make-ws-frame data)))
    (check-range 'make-ws-frame rsv 0 7 "rsv")
    (check-range 'make-ws-frame opcode 0 15 "opcode")
    (check-range 'make-ws-frame len 0 (bytes-size b) "length")
    (let ((p (%frame-new fin rsv opcode b len)))
      (if p
          (wrap-owned-frame p)
          (let-values (((msg _) (error-detail -2)))
            (ws-exn 'make-ws-frame msg (list fin rsv op mask len)))))))

(define (frame-fin f) (check-frame 'frame-fin f) (%frame-fin f))
(define frame-fin? frame-fin)            ; ws-client 1.0's source calls it so
(define (frame-rsv f) (check-frame 'frame-rsv f) (%frame-rsv f))
(define (frame-rsv-bit f bit)
  (check-frame 'frame-rsv-bit f)
  (check-range 'frame-rsv-bit bit 0 255 "bit")
  (%frame-rsv-bit f bit))
(define (frame-opcode f) (check-frame 'frame-opcode f) (%frame-opcode f))
(define (frame-optype f) (opcode->optype (frame-opcode f)))
(define (frame-mask? f) (check-frame 'frame-mask? f) (%frame-mask f))
(define (frame-payload-length f)
  (check-frame 'frame-payload-length f)
  (%frame-payload-length f))
(define (frame-payload-data f)
  (check-frame 'frame-payload-data f)
  (copy-out make-u8vector (%frame-payload-data f) (%frame-payload-length f)))
(define (data-frame? f) (fx< (frame-opcode f) 8))
(define (control-frame? f) (fx>= (frame-opcode f) 8))

(define-record-printer (ws-frame f out)
  (if (frame-ptr f)
      (let ((op (frame-opcode f)))
        (fprintf out "#<ws-frame fin=~A rsv=~A op=~A mask=~A length=~A>"
                 (frame-fin f) (frame-rsv f)
                 (let ((s (%opcode->optype op))) (if s s op))
                 (frame-mask? f) (frame-payload-length f)))
      (fprintf out "#<ws-frame freed>")))

;;; ------------------------------------------------------------------
;;; Responses (a handshake answered with a status other than 101)

(define %response-free (foreign-lambda void "ws_response_free" ws-resp*))
(define %response-status (foreign-lambda unsigned-short "ws_response_status" ws-resp))
(define %response-reason (foreign-lambda c-string "ws_response_reason" ws-resp))
(define %response-header-count (foreign-lambda size_t "ws_response_header_count" ws-resp))
(define %response-header-name (foreign-lambda c-string "ws_response_header_name" ws-resp size_t))
(define %response-header-value (foreign-lambda c-string "ws_response_header_value" ws-resp size_t))
(define %response-header (foreign-lambda c-string "ws_response_header" ws-resp c-string))
(define %response-body (foreign-lambda c-pointer "ws_response_body" ws-resp))
(define %response-body-length (foreign-lambda size_t "ws_response_body_length" ws-resp))

(define (free-response! r)
  (let ((p (response-ptr r)))
    (when p
      (response-ptr-set! r #f)
      (%response-free p))))

(define (wrap-response p)
  (set-finalizer! (%make-ws-response p) free-response!))

(define (check-response loc r)
  (live-pointer loc ws-response? response-ptr r "ws-response"))

(define (ws-response-status r) (check-response 'ws-response-status r) (%response-status r))
(define ws-response-code ws-response-status)   ; cf. intarweb's response-code
(define (ws-response-reason r) (check-response 'ws-response-reason r) (%response-reason r))

;; An alist ((name . value) ...) in the order received; names are
;; lower-case symbols, as in intarweb; repeated headers appear repeatedly.
(define (ws-response-headers r)
  (check-response 'ws-response-headers r)
  (let loop ((i (- (%response-header-count r) 1)) (acc '()))
    (if (< i 0)
        acc
        (loop (- i 1)
              (cons (cons (string->symbol (string-downcase* (%response-header-name r i)))
                          (%response-header-value r i))
                    acc)))))

;; The first value of header NAME (a string or symbol, any case), or #f.
(define (ws-response-header r name)
  (check-response 'ws-response-header r)
  (%response-header r (c-string-arg 'ws-response-header
                                    (if (symbol? name) (symbol->string name) name)
                                    "header name")))

(define (ws-response-body* r)
  (check-response 'ws-response-body* r)
  (copy-out make-u8vector (%response-body r) (%response-body-length r)))

(define (ws-response-body r)
  (check-response 'ws-response-body r)
  (copy-out make-string (%response-body r) (%response-body-length r)))

(define-record-printer (ws-response r out)
  (if (response-ptr r)
      (fprintf out "#<ws-response ~A ~A>" (ws-response-status r) (ws-response-reason r))
      (fprintf out "#<ws-response freed>")))

;;; ------------------------------------------------------------------
;;; permessage-deflate

;; PARAMETERS: a list of alists, one offer each, in order of preference;
;; each item ("name" . "value") or ("name" . #t). '() is the bare offer.
(define (permessage-deflate params)
  (define (bad x)
    (ws-exn 'permessage-deflate
            "parameters must be a list of alists of (\"name\" . \"value\") or (\"name\" . #t)"
            (list x)))
  (define (param->string p)
    (unless (and (pair? p) (string? (car p)) (not (string=? (car p) ""))) (bad p))
    (let ((name (c-string-arg 'permessage-deflate (car p) "parameter name"))
          (value (cdr p)))
      (cond ((eq? value #t) name)
            ((string? value)
             (string-append name "=" (c-string-arg 'permessage-deflate value "parameter value")))
            ((and (fixnum? value) (fx>= value 0)) (string-append name "=" (number->string value)))
            (else (bad p)))))
  (define (offer->string alist)
    (unless (list? alist) (bad alist))
    (string-intersperse (map param->string alist) "; "))
  (unless (list? params) (bad params))
  (%make-ws-extension 'permessage-deflate
                      (if (null? params) '("") (map offer->string params))))

(define-record-printer (ws-extension e out)
  (fprintf out "#<ws-extension ~A ~S>" (extension-name e) (extension-offers e)))

;;; ------------------------------------------------------------------
;;; Trace events and counters
;;;
;;; libwsclient calls a trace callback for each step of a connection's
;;; life, from inside the C call that made the step, while the connection
;;; is locked. The egg does not call Scheme from there: its calls into C
;;; are foreign-lambdas, during which no callback may enter Scheme; sends
;;; hand C pointers into the Scheme heap, which a callback's GC would
;;; move; and a trace procedure that waits (a write to a port) would switch
;;; green threads with C frames on the stack. Instead the callback is a C
;;; function (wsegg_trace below) that copies the event (kind, connection
;;; id, text, and every field present) into a queue owned by the
;;; connection, and the egg hands the queued events to the trace:
;;; procedure right after the C call returns, in order, on the green
;;; thread that made the call: before that thread waits, returns or
;;; raises. The procedure runs outside the connection's lock, so it may
;;; call the egg, even on the same connection (ws-connection-stat).
;;;
;;; The queue outlives the C connection (ws_conn_free may still report):
;;; `release!' frees the connection, hands over the last events and then
;;; frees the queue. A connection the GC collects drops its last events:
;;; the trace procedure is not called from a finalizer.

(foreign-declare #<<END-OF-C
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

/* The fields the egg copies out of an event, by the accessor that reads them. */
static const int32_t wsegg_number_fields[] = {
    WS_TRACE_FIELD_ELAPSED_US, WS_TRACE_FIELD_DURATION_US, WS_TRACE_FIELD_OPCODE,
    WS_TRACE_FIELD_LENGTH, WS_TRACE_FIELD_FIN, WS_TRACE_FIELD_RSV1, WS_TRACE_FIELD_STATUS,
    WS_TRACE_FIELD_CLOSE_CODE, WS_TRACE_FIELD_RTT_US, WS_TRACE_FIELD_RESULT,
    WS_TRACE_FIELD_RESUMED, WS_TRACE_FIELD_PORT,
};
static const int32_t wsegg_string_fields[] = {
    WS_TRACE_FIELD_HOST, WS_TRACE_FIELD_ADDRESS, WS_TRACE_FIELD_TLS_VERSION,
    WS_TRACE_FIELD_TLS_CIPHER, WS_TRACE_FIELD_ALPN, WS_TRACE_FIELD_PEER_SUBJECT,
    WS_TRACE_FIELD_HEADERS, WS_TRACE_FIELD_REASON, WS_TRACE_FIELD_MESSAGE,
    WS_TRACE_FIELD_LOCATION, WS_TRACE_FIELD_PROXY,
};
#define WSEGG_NUMBERS (sizeof wsegg_number_fields / sizeof wsegg_number_fields[0])
#define WSEGG_STRINGS (sizeof wsegg_string_fields / sizeof wsegg_string_fields[0])

typedef struct wsegg_field {
    int32_t id;
    int64_t number;
    char *string;                       /* NULL for a number field */
} wsegg_field;

/* A copy of one trace event, owned by the queue until popped. */
typedef struct wsegg_event {
    struct wsegg_event *next;
    int32_t kind;
    uint64_t conn_id;
    char *text;
    int count;
    wsegg_field fields[WSEGG_NUMBERS + WSEGG_STRINGS];
} wsegg_event;

/* One per traced connection: the callback's userdata. (The egg drives a
   connection from CHICKEN's one thread; the lock costs next to nothing
   and keeps the queue sound whichever thread libwsclient reports on.) */
typedef struct wsegg_trace_queue {
    pthread_mutex_t lock;
    wsegg_event *head, *tail;
} wsegg_trace_queue;

static void wsegg_event_free(wsegg_event *e) {
    int i;
    if (!e) return;
    for (i = 0; i < e->count; i++) free(e->fields[i].string);
    free(e->text);
    free(e);
}

/* The trace callback: copy the event into the queue. An event that does
   not fit in memory is dropped, a string field whose copy fails left out. */
static void wsegg_trace(const ws_trace_event *event, void *userdata) {
    wsegg_trace_queue *q = (wsegg_trace_queue *)userdata;
    const char *text = ws_trace_event_text(event);
    wsegg_event *e = (wsegg_event *)calloc(1, sizeof *e);
    size_t i;
    if (!e) return;
    e->kind = ws_trace_event_kind(event);
    e->conn_id = ws_trace_event_conn_id(event);
    e->text = strdup(text ? text : "");
    if (!e->text) { free(e); return; }
    for (i = 0; i < WSEGG_NUMBERS; i++) {
        int64_t v;
        if (ws_trace_event_number(event, wsegg_number_fields[i], &v)) {
            e->fields[e->count].id = wsegg_number_fields[i];
            e->fields[e->count].number = v;
            e->count++;
        }
    }
    for (i = 0; i < WSEGG_STRINGS; i++) {
        const char *s = ws_trace_event_string(event, wsegg_string_fields[i]);
        char *copy = s ? strdup(s) : NULL;
        if (copy) {
            e->fields[e->count].id = wsegg_string_fields[i];
            e->fields[e->count].string = copy;
            e->count++;
        }
    }
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->next = e; else q->head = e;
    q->tail = e;
    pthread_mutex_unlock(&q->lock);
}

static wsegg_trace_queue *wsegg_trace_queue_new(void) {
    wsegg_trace_queue *q = (wsegg_trace_queue *)calloc(1, sizeof *q);
    if (q) pthread_mutex_init(&q->lock, NULL);
    return q;
}

/* The oldest event (the caller frees it), or NULL. */
static wsegg_event *wsegg_trace_pop(wsegg_trace_queue *q) {
    wsegg_event *e;
    pthread_mutex_lock(&q->lock);
    e = q->head;
    if (e) {
        q->head = e->next;
        if (!q->head) q->tail = NULL;
        e->next = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    return e;
}

static void wsegg_trace_queue_free(wsegg_trace_queue *q) {
    wsegg_event *e;
    if (!q) return;
    while ((e = wsegg_trace_pop(q))) wsegg_event_free(e);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static int32_t wsegg_options_set_trace(ws_options *opts, wsegg_trace_queue *q) {
    return ws_options_set_trace(opts, wsegg_trace, q);
}

static int32_t wsegg_event_kind(const wsegg_event *e) { return e->kind; }
static uint64_t wsegg_event_conn_id(const wsegg_event *e) { return e->conn_id; }
static const char *wsegg_event_text(const wsegg_event *e) { return e->text; }
static int wsegg_event_count(const wsegg_event *e) { return e->count; }
static int32_t wsegg_event_field_id(const wsegg_event *e, int i) { return e->fields[i].id; }
static int64_t wsegg_event_field_number(const wsegg_event *e, int i) { return e->fields[i].number; }
/* NULL for a number field. */
static const char *wsegg_event_field_string(const wsegg_event *e, int i) { return e->fields[i].string; }
END-OF-C
)

(define-foreign-type trace-queue* (c-pointer (struct "wsegg_trace_queue")))
(define-foreign-type trace-item* (c-pointer (struct "wsegg_event")))

(define %trace-queue-new (foreign-lambda trace-queue* "wsegg_trace_queue_new"))
(define %trace-queue-free (foreign-lambda void "wsegg_trace_queue_free" trace-queue*))
(define %trace-pop (foreign-lambda trace-item* "wsegg_trace_pop" trace-queue*))
(define %trace-item-free (foreign-lambda void "wsegg_event_free" trace-item*))
(define %options-set-trace
  (foreign-lambda integer32 "wsegg_options_set_trace" ws-opts* trace-queue*))
(define %trace-item-kind (foreign-lambda integer32 "wsegg_event_kind" trace-item*))
(define %trace-item-conn-id (foreign-lambda unsigned-integer64 "wsegg_event_conn_id" trace-item*))
(define %trace-item-text (foreign-lambda c-string "wsegg_event_text" trace-item*))
(define %trace-item-count (foreign-lambda int "wsegg_event_count" trace-item*))
(define %trace-item-field-id (foreign-lambda integer32 "wsegg_event_field_id" trace-item* int))
(define %trace-item-field-number
  (foreign-lambda integer64 "wsegg_event_field_number" trace-item* int))
(define %trace-item-field-string
  (foreign-lambda c-string "wsegg_event_field_string" trace-item* int))
(define %trace-kind-name (foreign-lambda c-string "ws_trace_kind_name" integer32))
(define %stat-name (foreign-lambda c-string "ws_stat_name" integer32))
(define %conn-stat (foreign-lambda unsigned-integer64 "ws_conn_stat" ws-conn* integer32))
(define %conn-id (foreign-lambda unsigned-integer64 "ws_conn_id" ws-conn*))

;; The fields' names: WS_TRACE_FIELD_CLOSE_CODE is 'close-code.
(define trace-field-names
  (list (cons (foreign-value "WS_TRACE_FIELD_ELAPSED_US" integer32) 'elapsed-us)
        (cons (foreign-value "WS_TRACE_FIELD_DURATION_US" integer32) 'duration-us)
        (cons (foreign-value "WS_TRACE_FIELD_OPCODE" integer32) 'opcode)
        (cons (foreign-value "WS_TRACE_FIELD_LENGTH" integer32) 'length)
        (cons (foreign-value "WS_TRACE_FIELD_FIN" integer32) 'fin)
        (cons (foreign-value "WS_TRACE_FIELD_RSV1" integer32) 'rsv1)
        (cons (foreign-value "WS_TRACE_FIELD_STATUS" integer32) 'status)
        (cons (foreign-value "WS_TRACE_FIELD_CLOSE_CODE" integer32) 'close-code)
        (cons (foreign-value "WS_TRACE_FIELD_RTT_US" integer32) 'rtt-us)
        (cons (foreign-value "WS_TRACE_FIELD_RESULT" integer32) 'result)
        (cons (foreign-value "WS_TRACE_FIELD_RESUMED" integer32) 'resumed)
        (cons (foreign-value "WS_TRACE_FIELD_PORT" integer32) 'port)
        (cons (foreign-value "WS_TRACE_FIELD_HOST" integer32) 'host)
        (cons (foreign-value "WS_TRACE_FIELD_ADDRESS" integer32) 'address)
        (cons (foreign-value "WS_TRACE_FIELD_TLS_VERSION" integer32) 'tls-version)
        (cons (foreign-value "WS_TRACE_FIELD_TLS_CIPHER" integer32) 'tls-cipher)
        (cons (foreign-value "WS_TRACE_FIELD_ALPN" integer32) 'alpn)
        (cons (foreign-value "WS_TRACE_FIELD_PEER_SUBJECT" integer32) 'peer-subject)
        (cons (foreign-value "WS_TRACE_FIELD_HEADERS" integer32) 'headers)
        (cons (foreign-value "WS_TRACE_FIELD_REASON" integer32) 'reason)
        (cons (foreign-value "WS_TRACE_FIELD_MESSAGE" integer32) 'message)
        (cons (foreign-value "WS_TRACE_FIELD_LOCATION" integer32) 'location)
        (cons (foreign-value "WS_TRACE_FIELD_PROXY" integer32) 'proxy)))

;; Fields that are flags in C (0 or 1): booleans here.
(define trace-flag-fields '(fin rsv1 resumed))

;; A trace event: its kind, a symbol ('frame-sent: libwsclient's name for
;; it), the connection's id, a one-line text, and an alist of the fields
;; it has, in the order of their numbers.
(define-record-type ws-trace-event
  (%make-ws-trace-event kind connection-id text fields)
  ws-trace-event?
  (kind trace-event-kind)
  (connection-id trace-event-connection-id)
  (text trace-event-text)
  (fields trace-event-fields))

(define (check-trace-event loc e)
  (check-type loc ws-trace-event? e "a ws-trace-event"))

(define (ws-trace-event-kind e)
  (check-trace-event 'ws-trace-event-kind e)
  (trace-event-kind e))

(define (ws-trace-event-connection-id e)
  (check-trace-event 'ws-trace-event-connection-id e)
  (trace-event-connection-id e))

(define (ws-trace-event-text e)
  (check-trace-event 'ws-trace-event-text e)
  (trace-event-text e))

(define (ws-trace-event-fields e)
  (check-trace-event 'ws-trace-event-fields e)
  (trace-event-fields e))

;; The value of field NAME (a symbol), or DEFAULT (#f) when the event has none.
(define (ws-trace-event-field e name #!optional default)
  (check-trace-event 'ws-trace-event-field e)
  (let ((f (assq name (trace-event-fields e))))
    (if f (cdr f) default)))

(define-record-printer (ws-trace-event e out)
  (fprintf out "#<ws-trace-event ~A ~A ~S>"
           (trace-event-connection-id e) (trace-event-kind e) (trace-event-text e)))

;; A record made from one C event (no code of the user's runs here).
(define (trace-item->event p)
  (define (field i)
    (let* ((id (%trace-item-field-id p i))
           (name (cond ((assv id trace-field-names) => cdr) (else id)))
           (s (%trace-item-field-string p i)))
      (cons name
            (cond (s s)
                  ((memq name trace-flag-fields) (not (zero? (%trace-item-field-number p i))))
                  (else (%trace-item-field-number p i))))))
  (let ((kind (%trace-item-kind p)))
    (%make-ws-trace-event
     (let ((name (%trace-kind-name kind))) (if name (string->symbol name) kind))
     (%trace-item-conn-id p)
     (%trace-item-text p)
     (let loop ((i (- (%trace-item-count p) 1)) (acc '()))
       (if (< i 0) acc (loop (- i 1) (cons (field i) acc)))))))

;; The events in queue `q', oldest first, taken out of it.
(define (take-trace-events! q)
  (let loop ((acc '()))
    (let ((p (%trace-pop q)))
      (if p
          (let ((e (trace-item->event p)))
            (%trace-item-free p)
            (loop (cons e acc)))
          (reverse acc)))))

;; Hand the events that the C calls just made on `c' queued to its trace
;; procedure. All are taken out of the queue first, so a procedure that
;; raises (the condition goes to the egg's caller) leaves nothing half
;; done, and one that calls the egg on this connection gets the events of
;; those calls after these. Called right after the calls, before the
;; caller waits, returns or raises; after a failing call, once its error
;; detail has been read (the procedure's own calls would replace it).
(define (deliver-trace! c)
  (let ((q (conn-trace-queue c)))
    (when q
      (let ((events (take-trace-events! q))
            (proc (conn-trace c)))
        (when proc (for-each proc events))))))

;; The last events of a connection whose C connection was just freed,
;; and its queue freed.
(define (deliver-last-trace! c)
  (let ((q (conn-trace-queue c)))
    (when q
      (conn-trace-queue-set! c #f)
      (let ((events (take-trace-events! q))
            (proc (conn-trace c)))
        (%trace-queue-free q)
        (when proc (for-each proc events))))))

;; The counters libwsclient has, named as there ("bytes_in" is 'bytes-in),
;; in the order of their numbers. Asked at load time, so those of a newer
;; library are there too.
(define stat-table
  (let loop ((i 255) (acc '()))
    (if (< i 1)
        acc
        (loop (- i 1)
              (let ((name (%stat-name i)))
                (if name
                    (cons (cons (string->symbol (string-translate name "_" "-")) i) acc)
                    acc))))))

(define (read-stats p)
  (map (lambda (s) (cons (car s) (%conn-stat p (cdr s)))) stat-table))

;; (ws-connection-stats C): every counter and timing, an alist
;; ((bytes-in . N) ...). Once the connection is released, their values
;; at that time.
(define (ws-connection-stats c)
  (check-type 'ws-connection-stats ws-connection? c "a ws-connection")
  (if (conn-ptr c) (read-stats (conn-ptr c)) (conn-stats c)))

;; (ws-connection-stat C NAME): one of them by name, e.g. 'bytes-in.
(define (ws-connection-stat c name)
  (check-type 'ws-connection-stat ws-connection? c "a ws-connection")
  (let ((s (assq name stat-table)))
    (unless s
      (ws-exn 'ws-connection-stat
              (string-append "unknown stat (known: "
                             (string-intersperse (map (lambda (s) (symbol->string (car s)))
                                                      stat-table)
                                                 ", ")
                             ")")
              (list name)))
    (if (conn-ptr c)
        (%conn-stat (conn-ptr c) (cdr s))
        (cond ((assq name (conn-stats c)) => cdr)
              (else 0)))))

;; The connection's id: the one its trace events carry, unique in the process.
(define (ws-connection-id c)
  (check-type 'ws-connection-id ws-connection? c "a ws-connection")
  (conn-id c))

;;; ------------------------------------------------------------------
;;; Connections

(define %options-new (foreign-lambda ws-opts* "ws_options_new"))
(define %options-free (foreign-lambda void "ws_options_free" ws-opts*))
(define %options-add-deflate-offer
  (foreign-lambda integer32 "ws_options_add_deflate_offer" ws-opts* c-string))
(define %options-set-strip-host (foreign-lambda integer32 "ws_options_set_strip_host" ws-opts* bool))
(define %options-add-header
  (foreign-lambda integer32 "ws_options_add_header" ws-opts* c-string c-string))
(define %options-set-origin (foreign-lambda integer32 "ws_options_set_origin" ws-opts* c-string))
(define %options-add-subprotocol
  (foreign-lambda integer32 "ws_options_add_subprotocol" ws-opts* c-string))
(define %options-set-max-message-size
  (foreign-lambda integer32 "ws_options_set_max_message_size" ws-opts* size_t))
(define size-max (foreign-value "SIZE_MAX" size_t))
(define uint64-max (foreign-value "UINT64_MAX" unsigned-integer64))
(define %options-set-max-frame-size
  (foreign-lambda integer32 "ws_options_set_max_frame_size" ws-opts* unsigned-integer64))
(define %options-set-timeouts
  (foreign-lambda integer32 "ws_options_set_timeouts" ws-opts*
                  unsigned-integer32 unsigned-integer32 unsigned-integer32 unsigned-integer32))
(define %options-set-close-timeout
  (foreign-lambda integer32 "ws_options_set_close_timeout" ws-opts* unsigned-integer32))
(define %options-set-max-redirects
  (foreign-lambda integer32 "ws_options_set_max_redirects" ws-opts* unsigned-integer32))
(define %options-set-tls-ca-file
  (foreign-lambda integer32 "ws_options_set_tls_ca_file" ws-opts* c-string))
(define %options-set-tls-ca-dir
  (foreign-lambda integer32 "ws_options_set_tls_ca_dir" ws-opts* c-string))
(define %options-set-tls-client-cert
  (foreign-lambda integer32 "ws_options_set_tls_client_cert" ws-opts* c-string c-string))
(define %options-set-tls-danger-accept-invalid-certs
  (foreign-lambda integer32 "ws_options_set_tls_danger_accept_invalid_certs" ws-opts* bool))
(define %options-set-fragment-size
  (foreign-lambda integer32 "ws_options_set_fragment_size" ws-opts* size_t))
(define %options-set-compression-level
  (foreign-lambda integer32 "ws_options_set_compression_level" ws-opts* integer32))
(define %options-set-auto-pong (foreign-lambda integer32 "ws_options_set_auto_pong" ws-opts* bool))
(define %options-set-keepalive
  (foreign-lambda integer32 "ws_options_set_keepalive" ws-opts* unsigned-integer32 unsigned-integer32))
(define %options-set-send-queue-limit
  (foreign-lambda integer32 "ws_options_set_send_queue_limit" ws-opts* size_t))
(define %options-set-proxy (foreign-lambda integer32 "ws_options_set_proxy" ws-opts* c-string))
(define %options-use-env-proxy
  (foreign-lambda integer32 "ws_options_use_env_proxy" ws-opts* bool))
(define %options-set-tls-keylog-file
  (foreign-lambda integer32 "ws_options_set_tls_keylog_file" ws-opts* c-string))
(define %options-set-tls-keylog-env
  (foreign-lambda integer32 "ws_options_set_tls_keylog_env" ws-opts* bool))

(define %connect-start
  (foreign-lambda integer32 "ws_connect_start" c-string ws-opts* (c-pointer ws-conn*)))
(define %connect-continue
  (foreign-lambda integer32 "ws_connect_continue" ws-conn (c-pointer ws-resp*)))
(define %conn-free (foreign-lambda void "ws_conn_free" ws-conn*))
(define %conn-state (foreign-lambda integer32 "ws_conn_state" ws-conn))
(define %conn-fd (foreign-lambda integer32 "ws_conn_fd" ws-conn))
(define %conn-subprotocol* (foreign-lambda c-string "ws_conn_subprotocol" ws-conn*))
(define %conn-compression* (foreign-lambda bool "ws_conn_compression" ws-conn*))
(define %conn-header (foreign-lambda c-string "ws_conn_header" ws-conn c-string))
(define %conn-peer-close-code (foreign-lambda unsigned-short "ws_conn_peer_close_code" ws-conn))
(define %conn-peer-close-reason (foreign-lambda c-string "ws_conn_peer_close_reason" ws-conn))
(define %recv-message (foreign-lambda integer32 "ws_recv_message" ws-conn (c-pointer ws-msg*)))
(define %recv-frame (foreign-lambda integer32 "ws_recv_frame" ws-conn (c-pointer ws-frm*)))
(define %send-message (foreign-lambda integer32 "ws_send_message" ws-conn ws-msg))
(define %send (foreign-lambda integer32 "ws_send" ws-conn integer32 scheme-pointer size_t unsigned-integer32))
(define %send-frame (foreign-lambda integer32 "ws_send_frame" ws-conn ws-frm))
(define %close (foreign-lambda integer32 "ws_close" ws-conn unsigned-short c-string))
(define %ping (foreign-lambda integer32 "ws_ping" ws-conn scheme-pointer size_t))
(define %conn-flush (foreign-lambda integer32 "ws_conn_flush" ws-conn))
(define %conn-wants (foreign-lambda unsigned-integer32 "ws_conn_wants" ws-conn))
(define %conn-queued-bytes (foreign-lambda size_t "ws_conn_queued_bytes" ws-conn))
(define %conn-next-timeout (foreign-lambda integer64 "ws_conn_next_timeout_ms" ws-conn))

;; ws-client 1.0's documentation calls it so.
(define is-ws-connection? ws-connection?)

(define (check-conn loc c)
  (live-pointer loc ws-connection? conn-ptr c "ws-connection"))

;;; ------------------------------------------------------------------
;;; Waiting without stopping other green threads
;;;
;;; The C connection is in non-blocking mode (ws_connect_start opens it so):
;;; no C call waits. Sends, pings and closes are queued and written as far as
;;; the socket takes them; a receive with nothing complete, a full send
;;; queue and a flush with bytes left say WS_ERR_WOULD_BLOCK. The calling
;;; green thread then waits in CHICKEN's scheduler for the socket, at most
;;; until the connection's next deadline (keepalive ping, pong timeout,
;;; close timeout: ws_conn_next_timeout_ms) or the caller's own read or
;;; write timeout, and calls again; C calls that follow a deadline act on
;;; it (ws_conn_flush, or the receive itself). Meanwhile other threads run.
;;;
;;; ws-connect waits the same way between its ws_connect_continue calls
;;; (name lookup, TCP, the proxy, TLS, the upgrade), for what
;;; ws_conn_wants asks, at most until the handshake's next deadline.
;;;
;;; Times are in milliseconds of current-process-milliseconds, the
;;; scheduler's clock. A deadline is such a time, or #f for none.

(define (now-ms) (current-process-milliseconds))

(define (deadline-after ms) (and ms (+ (now-ms) ms)))

(define (passed? deadline) (and deadline (>= (now-ms) deadline)))

;; Block this green thread until `fd' is ready for `mode' (#:input,
;; #:output, #:all; #f: no I/O) or `ms' milliseconds have passed (#f: no
;; limit); one of the two must be given. Wake-ups are hints: callers
;; look again at what they wait for.
(define (wait-fd fd mode ms)
  (let ((t ##sys#current-thread))
    (when ms (##sys#thread-block-for-timeout! t (+ (now-ms) ms)))
    (when mode (##sys#thread-block-for-i/o! t fd mode))
    (##sys#call-with-current-continuation
     (lambda (return)
       (##sys#setslot t 1 (lambda () (return (void))))
       (##sys#schedule)))))

(define (wants? c bit) (not (fx= 0 (bitwise-and (%conn-wants c) bit))))

;; Wait until the socket is ready for what we need (`read?': input; and
;; output room whenever bytes are queued), the connection's next deadline,
;; or `deadline'. Returns at once when there is nothing to wait for.
;; While connecting, the descriptor changes from step to step (a name
;; lookup's, one gathering the TCP attempts, the socket): it is read anew
;; on each call; -1 (with a deadline of 0) means "call again now".
(define (await c read? deadline)
  (let* ((fd (%conn-fd c))
         (write? (wants? c ws-want-write))
         (mode (cond ((fx< fd 0) #f)
                     ((and read? write?) #:all) (read? #:input) (write? #:output)
                     (else #f)))
         (next (%conn-next-timeout c))
         (a (and (>= next 0) next))
         (b (and deadline (max 0 (- deadline (now-ms)))))
         (ms (if (and a b) (min a b) (or a b)))
         (me ##sys#current-thread))
    (when (or mode ms)
      (conn-waiters-set! c (cons me (conn-waiters c)))
      (wait-fd fd mode ms)
      (conn-waiters-set! c (remove-thread me (conn-waiters c))))))

(define (remove-thread t l)
  (cond ((null? l) l)
        ((eq? t (car l)) (cdr l))
        (else (cons (car l) (remove-thread t (cdr l))))))

;; A call changed what the waiting threads wait for (a close started: a new
;; deadline; the connection was freed: its fd is gone). Wake them: they
;; look again.
(define (wake-waiters! c)
  (for-each ##sys#thread-unblock! (conn-waiters c))
  (conn-waiters-set! c '()))

(define (timeout-exn loc what)
  (ws-exn loc what '() ws-err-timeout))

;; Write everything queued (ours and any earlier sends'), acting on the
;; deadlines on the way. `what' is the message of the timeout raised when
;; `deadline' passes first.
(define (drain loc c deadline what)
  (let loop ()
    (check-conn loc c)
    (let ((rc (%conn-flush c)))
      (cond ((fx= rc ws-ok) (deliver-trace! c))
            ((not (fx= rc ws-err-would-block)) (conn-failure loc c rc))
            (else
             (deliver-trace! c)
             (check-conn loc c)         ; the trace procedure may have let a thread free it
             (cond ((passed? deadline) (timeout-exn loc what))
                   (else (await c #f deadline) (loop))))))))

;; Run `call', a C send, ping or close (() -> rc), and return once its
;; bytes are written, or raise a timeout when the write timeout passes
;; first (the frame then stays queued: later calls write it). A full send
;; queue (WS_ERR_WOULD_BLOCK) is waited out and the call made again.
;; `queue-only': a send marked WS_SEND_MORE, left queued for the next.
(define (submit loc c call #!optional queue-only)
  (check-conn loc c)                    ; before its fields are read
  (let ((deadline (deadline-after (conn-write-timeout c))))
    (let retry ()
      (check-conn loc c)
      (let ((rc (call)))
        (cond ((fx= rc ws-err-would-block)
               (drain loc c deadline
                      "write timeout: the send queue stayed full; the message was not sent")
               (retry))
              ((fx< rc 0) (conn-failure loc c rc))
              (queue-only (wake-waiters! c) (deliver-trace! c))
              (else
               (wake-waiters! c)
               (deliver-trace! c)
               (drain loc c deadline "write timeout: the message is queued; later calls write it")
               (release-if-closed! c)))))))

;; (call) runs one C receive with a fresh out-pointer and returns
;; (values rc pointer); WS_ERR_WOULD_BLOCK is waited out here, up to the
;; read timeout (then a timeout is raised and the connection stays usable).
(define (with-input loc c call)
  (check-conn loc c)                    ; before its fields are read
  (let ((deadline (deadline-after (conn-read-timeout c))))
    (let loop ()
      (check-conn loc c)
      (let-values (((rc p) (call)))
        (cond ((not (fx= rc ws-err-would-block)) (values rc p))
              (else
               (deliver-trace! c)
               (check-conn loc c)       ; the trace procedure may have let a thread free it
               (cond ((passed? deadline)
                      (timeout-exn loc "read timeout: no message arrived in time"))
                     (else (await c #t deadline) (loop)))))))))

;; The WebSocket is over (close handshake done, or failed): get our last
;; frames out and give the server its time to close TCP first (RFC 6455
;; 7.1.1). The library bounds that by the close timeout; so do we, in
;; case of a socket that neither takes bytes nor closes.
(define (wind-down! c)
  (let ((deadline (deadline-after (or (conn-close-timeout c) 5000))))
    (let loop ()
      (when (conn-ptr c)                ; another thread may have freed it
        (%conn-flush c)
        (unless (or (fx= 0 (%conn-wants c)) (passed? deadline))
          (await c (wants? c ws-want-read) deadline)
          (loop))))))

;; Free the C connection (closing its socket) once it is closed, keeping
;; what can still be asked of it. The record then answers from the cache.
(define (release-if-closed! c)
  (let ((p (conn-ptr c)))
    (when (and p (not (memv (%conn-state c) (list ws-state-open ws-state-closing))))
      (wind-down! c)
      (release! c))))

;; The same without the wait, for an error that is not a fail (a keepalive
;; or close timeout, a lost connection): the server is not answering, so
;; the error is raised at once. What the socket takes now (the 1011 close
;; frame of a keepalive failure) is still written.
(define (release-now-if-closed! c)
  (let ((p (conn-ptr c)))
    (when (and p (not (memv (%conn-state c) (list ws-state-open ws-state-closing))))
      (%conn-flush c)
      (release! c))))

(define (release! c)
  (when (conn-ptr c)
    (wake-waiters! c)
    (let ((code (%conn-peer-close-code c)))
      (conn-peer-code-set! c (and (fx> code 0) code))
      (conn-peer-reason-set! c (and (fx> code 0) (%conn-peer-close-reason c)))
      (conn-state-set! c 'closed)
      (conn-partial-set! c #f)
      (let ((p (conn-ptr c)))
        (conn-stats-set! c (read-stats p))
        (conn-ptr-set! c #f)
        (%conn-free p))
      (deliver-last-trace! c))))

;; The finalizer: the same, without calling the trace procedure.
(define (finalize-connection! c)
  (conn-trace-set! c #f)
  (release! c))

;; Close the socket now, without a close handshake; idempotent. The
;; finalizer does the same for a connection that is no longer referenced.
(define (ws-connection-free! c)
  (check-type 'ws-connection-free! ws-connection? c "a ws-connection")
  (release! c))

;; Raise for the negative result of a call on connection `c'; release the
;; connection if the call closed it (after reading the error detail, which
;; the next failing call of any green thread replaces). After a fail the
;; server, alive but in breach, gets its time to close TCP first; after
;; other errors it is not waited for.
(define (conn-failure loc c rc #!optional (args '()))
  (let-values (((msg close-code) (error-detail rc)))
    (if (%result-is-fail rc)
        (begin
          (release-if-closed! c)
          (deliver-trace! c)
          (ws-fail loc (close-code->reason/default close-code) msg rc))
        (begin
          (release-now-if-closed! c)
          (deliver-trace! c)
          (ws-exn loc msg args rc)))))

(define (recv-message c)
  (let-values (((rc p) (with-input 'recv-message c
                                    (lambda ()
                                      (let-location ((out ws-msg*))
                                        (let ((rc (%recv-message c (location out))))
                                          ;; `out' is written only on success
                                          (values rc (and (fx= rc ws-ok) out))))))))
    (cond ((fx= rc ws-ok)
           (let ((m (wrap-message p)))
             (account-bytes! (c-bytes-held (%message-size m) (%message-compressed m)))
             (deliver-trace! c)
             m))
          ((fx= rc ws-closed)
           (release-if-closed! c)
           (deliver-trace! c)
           #f)
          (else (conn-failure 'recv-message c rc)))))

;; Receive messages and call (HANDLER message) on each until the server
;; closes the connection. A *fail* (the server broke the protocol) has
;; already been answered with a close frame by the library and ends the
;; loop too. Returns #f after a close by the server, the (exn websocket
;; fail) condition after a fail; other errors are raised.
(define (recv-message-loop c handler)
  (check-type 'recv-message-loop ws-connection? c "a ws-connection")
  (check-type 'recv-message-loop procedure? handler "a procedure")
  (let loop ()
    (let ((m (condition-case (recv-message c)
               (e (websocket fail) e))))
      (if (ws-message? m)
          (begin (handler m) (loop))
          m))))

(define (recv-frame c)
  (let-values (((rc p) (with-input 'recv-frame c
                                    (lambda ()
                                      (let-location ((out ws-frm*))
                                        (let ((rc (%recv-frame c (location out))))
                                          ;; `out' is written only on success
                                          (values rc (and (fx= rc ws-ok) out))))))))
    (if (fx= rc ws-ok)
        (let ((f (wrap-owned-frame p)))
          (deliver-trace! c)
          f)
        (conn-failure 'recv-frame c rc))))

;;; ------------------------------------------------------------------
;;; Messages in pieces (ws_recv_part)
;;;
;;; recv-message-part and recv-message-port hand out a message as it
;;; arrives, in pieces of at most SIZE bytes that libwsclient has already
;;; inflated and checked (a text piece ends between characters), so a
;;; message of any size is received in bounded memory: SIZE bytes in the
;;; Scheme heap for the piece, and in C SIZE plus one read of at most
;;; 64 KiB plus the inflate window. They wait as recv-message does.
;;;
;;; A message begun in pieces is finished in pieces: libwsclient refuses
;;; recv-message and recv-frame until its last piece. The connection's
;;; `partial' field says who reads it, (reader . type): 'parts for
;;; recv-message-part, or the port of recv-message-port, which owns its
;;; message until the end or its close (closing it early receives and
;;; drops the rest), so that no other reader takes its bytes.

(define ws-err-invalid-state (foreign-value "WS_ERR_INVALID_STATE" integer32))

(define default-part-size 65536)

(foreign-declare #<<END-OF-C
/* ws_recv_part with its flag as an int, the C type of CHICKEN's bool. */
static int32_t wsegg_recv_part(ws_conn *conn, void *buf, size_t cap, size_t *len,
                               int32_t *type, int *last) {
    bool l = false;
    int32_t rc = ws_recv_part(conn, (uint8_t *)buf, cap, len, type, &l);
    *last = l;
    return rc;
}
END-OF-C
)

(define %recv-part
  (foreign-lambda integer32 "wsegg_recv_part" ws-conn scheme-pointer size_t
                  (c-pointer size_t) (c-pointer integer32) (c-pointer int)))

(define (check-part-size loc size)
  (unless (and (fixnum? size) (fx>= size 4))
    (ws-exn loc "the size of a piece must be an integer of at least 4 (bytes)" (list size))))

(define (invalid-state loc c msg)
  (ws-exn loc msg (list c) ws-err-invalid-state))

;; One ws_recv_part into `buf' (a blob or string of at least `cap' bytes),
;; without waiting: (values rc piece), piece being (len type last?) on WS_OK.
(define (recv-part-once c buf cap)
  (let-location ((len size_t 0) (type integer32 0) (last int 0))
    (let ((rc (%recv-part c buf cap (location len) (location type) (location last))))
      (values rc
              (and (fx= rc ws-ok)
                   (list len
                         (if (fx= type ws-message-text) 'text 'binary)
                         (not (fx= last 0))))))))

;; What a ws_recv_part call gave, as (values len type last?), or (values
;; #f #f #f) once the connection is closed; failures raised as for
;; recv-message. `reader' is who reads the message ('parts or a port).
;; The connection's `partial' field is set, and (accept! len type last?)
;; called, before the trace procedure runs: a condition it raises must
;; not lose a port's piece.
(define (piece-result loc c reader rc piece #!optional (accept! void))
  (cond ((fx= rc ws-ok)
         (let ((type (cadr piece)) (last (caddr piece)))
           (conn-partial-set! c (and (not last) (cons reader type)))
           (accept! (car piece) type last)
           (deliver-trace! c)
           (values (car piece) type last)))
        ((fx= rc ws-closed)
         (conn-partial-set! c #f)
         (release-if-closed! c)
         (deliver-trace! c)
         (values #f #f #f))
        (else (conn-failure loc c rc))))

;; The next piece into `buf', waiting in the scheduler up to the read
;; timeout.
(define (receive-piece loc c reader buf cap)
  (let-values (((rc piece) (with-input loc c (lambda () (recv-part-once c buf cap)))))
    (piece-result loc c reader rc piece)))

;; (recv-message-part C [SIZE]) -> (values DATA TYPE LAST?)
;;
;; The next piece, of at most SIZE bytes (default 64 KiB, at least 4), of
;; the message being received, or of the next one: DATA is a string for
;; text (whole characters), a blob for binary; TYPE 'text or 'binary;
;; LAST? whether it ends the message. (values #f #f #f) once the server
;; has closed the connection (as recv-message's #f).
(define (recv-message-part c #!optional (size default-part-size))
  (check-conn 'recv-message-part c)
  (check-part-size 'recv-message-part size)
  (let ((partial (conn-partial c)))
    (when (and partial (not (eq? (car partial) 'parts)))
      (invalid-state 'recv-message-part c
                     "the message is being read through its port (recv-message-port): read it there, or close the port"))
    ;; Received into an object of the type the message has, if known
    ;; (then a full piece is handed out as it is), else copied.
    (let ((buf (if (and partial (eq? (cdr partial) 'text)) (make-string size) (make-blob size))))
      (let-values (((len type last) (receive-piece 'recv-message-part c 'parts buf size)))
        (if len
            (values (piece-object buf len type) type last)
            (values #f #f #f))))))

;; The first `len' bytes of `buf' as a string (text) or a blob (binary).
(define (piece-object buf len type)
  (let ((text? (eq? type 'text)))
    (if (and (eq? text? (string? buf)) (fx= len (bytes-size buf)))
        buf
        (let ((v (if text? (make-string len) (make-blob len))))
          (move-memory! buf v len)
          v))))

;; (recv-message-port C [SIZE]) -> (values PORT TYPE)
;;
;; Waits for the first piece of the next message and returns an input port
;; that reads the message's bytes as they arrive (pieces of at most SIZE
;; bytes, one buffer reused), and its type; (values #f #f) once the server
;; has closed the connection. The port's end of file is the message's end.
;; Closing it before then receives and drops the rest of the message.
(define (recv-message-port c #!optional (size default-part-size))
  (check-conn 'recv-message-port c)
  (check-part-size 'recv-message-port size)
  (when (conn-partial c)
    (invalid-state 'recv-message-port c
                   (if (eq? (car (conn-partial c)) 'parts)
                       "a message is partly received with recv-message-part: finish it there"
                       "the last message's port is still reading it: read it to its end, or close it")))
  (let* ((bytes (make-u8vector size))
         (buf (u8vector->blob/shared bytes))
         (pos 0)                        ; what is left of the piece: bytes[pos, end)
         (end 0)
         (done #f)                      ; the last piece was received
         (port #f))
    (define (reading?)                  ; this port still owns the message
      (let ((partial (and (conn-ptr c) (conn-partial c))))
        (and partial (eq? (car partial) port))))
    (define (accept! len type last)
      (set! pos 0)
      (set! end len)
      (set! done last))
    (define (take! loc rc piece)
      (let-values (((len type last) (piece-result loc c port rc piece accept!)))
        (unless len                     ; later reads raise too: it is freed
          (ws-exn loc "the connection closed before the end of the message" (list c)))))
    ;; Bytes left in the buffer, receiving (and waiting) as needed; #f at
    ;; the end of the message.
    (define (more? loc)
      (let loop ()
        (cond ((fx< pos end) #t)
              (done #f)
              (else
               (let-values (((rc piece) (with-input loc c (lambda () (recv-part-once c buf size)))))
                 (take! loc rc piece))
               (loop)))))
    (define (read-char*)
      (if (more? 'read-char)
          (let ((b (u8vector-ref bytes pos)))
            (set! pos (fx+ pos 1))
            (integer->char b))
          #!eof))
    (define (peek-char*)
      (if (more? 'peek-char) (integer->char (u8vector-ref bytes pos)) #!eof))
    ;; For read-string!, read-string, read-u8vector...: what is left of
    ;; the piece, up to `n' bytes, receiving one if none is (0 at the end).
    ;; CHICKEN calls again for the rest, so a receive that raises never
    ;; drops bytes already copied.
    (define (read-bytes! port n dest start)
      (if (and (fx> n 0) (more? 'read-string!))
          (let ((k (fxmin n (fx- end pos))))
            (move-memory! buf dest k pos start)
            (set! pos (fx+ pos k))
            k)
          0))
    ;; Whether a read would not wait: bytes left, the end, or a piece
    ;; that a receive that does not wait finds.
    (define (ready?)
      (or (fx< pos end)
          done
          (and (reading?)
               (let-values (((rc piece) (recv-part-once c buf size)))
                 (if (fx= rc ws-err-would-block)
                     (begin (deliver-trace! c) #f)
                     (begin (take! 'char-ready? rc piece) #t))))))
    ;; Receive and drop the rest of the message, if the connection is
    ;; still there (a connection that closes meanwhile ends it quietly).
    (define (close!)
      (let loop ()
        (when (and (not done) (reading?))
          (let*-values (((rc piece) (with-input 'close-input-port c
                                                (lambda () (recv-part-once c buf size))))
                        ((len type last) (piece-result 'close-input-port c port rc piece)))
            (set! done (or (not len) last)))
          (loop)))
      (set! pos 0)
      (set! end 0)
      (set! done #t))
    (set! port (make-input-port read-char* ready? close! peek-char* read-bytes!))
    (let-values (((rc piece) (with-input 'recv-message-port c
                                         (lambda () (recv-part-once c buf size)))))
      (let-values (((len type last)
                    ;; A trace procedure that raises here would leave the
                    ;; message to a port no one has: the rest of it goes to
                    ;; recv-message-part instead.
                    (handle-exceptions e
                        (begin
                          (when (reading?)
                            (conn-partial-set! c (cons 'parts (cdr (conn-partial c)))))
                          (abort e))
                      (piece-result 'recv-message-port c port rc piece accept!))))
        (cond ((not len) (values #f #f))
              (else
               (set-port-name! port (if (eq? type 'text) "(ws-client text message)"
                                        "(ws-client binary message)"))
               (values port type)))))))

(define (send-message c m)
  (check-conn 'send-message c)
  (check-message 'send-message m)
  (submit 'send-message c (lambda () (%send-message c m))))

;; `more': more messages follow, so this one is only queued (WS_SEND_MORE)
;; and goes out with them in one system call.
(define (send-data loc c type data more)
  (check-conn loc c)
  (let ((b (bytes-object loc data))
        (flags (if more ws-send-more 0)))
    (submit loc c (lambda () (%send c type b (bytes-size b) flags)) more)))

;; STRING: UTF-8 text (a CHICKEN string holds bytes).
(define (send-text-message c s #!key more)
  (check-type 'send-text-message string? s "a string")
  (send-data 'send-text-message c ws-message-text s more))

;; BLOB: a blob (or a u8vector, or a string's bytes).
(define (send-binary-message c b #!key more)
  (send-data 'send-binary-message c ws-message-binary b more))

(define (send-frame c f)
  (check-conn 'send-frame c)
  (check-frame 'send-frame f)
  (submit 'send-frame c (lambda () (%send-frame c f))))

;; (ws-ping CONN [DATA]): send a ping with up to 125 bytes of payload (a
;; string, blob or u8vector). recv-frame shows the pong; recv-message
;; passes over it.
(define (ws-ping c #!optional (data ""))
  (check-conn 'ws-ping c)
  (let ((b (bytes-object 'ws-ping data)))
    (submit 'ws-ping c (lambda () (%ping c b (bytes-size b))))))

;; (ws-close CONN [REASON [TEXT]]): send a close frame with the close code
;; of REASON (a symbol of ws-client 1.0's table, default 'normal-closure, or an
;; integer code such as 4000) and an optional UTF-8 TEXT. Keep receiving
;; until recv-message returns #f: the server's answer is due within the
;; close timeout, after which the receive raises an (exn websocket
;; timeout) and the connection is closed. Does nothing if the close
;; handshake has already started or the connection is closed (after a
;; fail, the library has already sent the close frame).
(define (ws-close c #!optional (reason 'normal-closure) (text #f))
  (check-type 'ws-close ws-connection? c "a ws-connection")
  (let ((code (if (symbol? reason)
                  (reason->close-code* 'ws-close reason)
                  (begin (check-range 'ws-close reason 1000 4999 "close code") reason))))
    (when text (c-string-arg 'ws-close text "close reason text"))
    (when (and (conn-ptr c) (fx= (%conn-state c) ws-state-open))
      (submit 'ws-close c (lambda () (%close c code text))))))

;; Bytes queued for the socket (sends marked more:, or what a slow
;; server has not taken yet); 0 once the connection is released.
(define (ws-connection-queued-bytes c)
  (check-type 'ws-connection-queued-bytes ws-connection? c "a ws-connection")
  (if (conn-ptr c) (%conn-queued-bytes c) 0))

;; What was agreed at the handshake; kept after the connection is released.
(define (ws-connection-uri c)
  (check-type 'ws-connection-uri ws-connection? c "a ws-connection")
  (conn-uri c))

(define (ws-connection-compression? c)
  (check-type 'ws-connection-compression? ws-connection? c "a ws-connection")
  (conn-compression c))

(define (ws-connection-subprotocol c)
  (check-type 'ws-connection-subprotocol ws-connection? c "a ws-connection")
  (conn-subprotocol c))

(define (ws-connection-state c)
  (check-type 'ws-connection-state ws-connection? c "a ws-connection")
  (if (conn-ptr c)
      (let ((s (%conn-state c)))
        (cond ((fx= s ws-state-open) 'open)
              ((fx= s ws-state-closing) 'closing)
              (else 'closed)))
      (conn-state c)))

;; The close code the server sent (1005: its close frame had none), or #f.
(define (ws-connection-close-code c)
  (check-type 'ws-connection-close-code ws-connection? c "a ws-connection")
  (if (conn-ptr c)
      (let ((code (%conn-peer-close-code c))) (and (fx> code 0) code))
      (conn-peer-code c)))

;; The reason text of the server's close frame ("" if none), or #f.
(define (ws-connection-close-reason c)
  (check-type 'ws-connection-close-reason ws-connection? c "a ws-connection")
  (if (conn-ptr c)
      (and (fx> (%conn-peer-close-code c) 0) (%conn-peer-close-reason c))
      (conn-peer-reason c)))

;; A header of the server's 101 response, or #f. Only while the connection
;; has not been released (see ws-connection-free!).
(define (ws-connection-header c name)
  (check-conn 'ws-connection-header c)
  (%conn-header c (c-string-arg 'ws-connection-header
                                (if (symbol? name) (symbol->string name) name)
                                "header name")))

(define-record-printer (ws-connection c out)
  (fprintf out "#<ws-connection ~A ~A>" (ws-connection-uri c) (ws-connection-state c)))

;; A timeout in milliseconds; #f (or 0) is none.
(define (ms loc x what)
  (cond ((not x) 0)
        ((and (real? x) (>= x 0) (< x 4294967296)) (inexact->exact (round x)))
        (else (ws-exn loc (string-append what " must be a number of milliseconds") (list x)))))

;; (ws-connect URI [EXTENSIONS [FLAGS]] #!key ...) -> ws-connection or ws-response
;;
;; EXTENSIONS: a list of (permessage-deflate ...) values; FLAGS: a list of
;; symbols ('strip-host). The keywords may follow URI directly, or either
;; list. They are libwsclient's options: headers (alist of strings),
;; origin, subprotocols (list of strings), max-message-size,
;; max-frame-size, connect-timeout, handshake-timeout, close-timeout
;; (milliseconds), max-redirects, fragment-size, compression-level,
;; tls-ca-file, tls-ca-dir, tls-client-cert, tls-client-key, tls-insecure,
;; auto-pong, ping-interval and ping-timeout (keepalive, milliseconds),
;; send-queue-limit (bytes), proxy (a URL) and env-proxy (take the proxy
;; from http_proxy, https_proxy, all_proxy and no_proxy), tls-keylog-file
;; and tls-keylog-env (the TLS secrets for Wireshark); and the egg's
;; read-timeout (each receive) and
;; write-timeout (each send, ping or close), in milliseconds; retry (#f,
;; #t or a ws-retry-policy: see "Reconnecting"); and trace (a procedure
;; called with each ws-trace-event: see "Trace events and counters").
;;
;; It waits in CHICKEN's scheduler (name lookup, TCP, proxy, TLS, the
;; upgrade): other green threads run meanwhile.
(define (ws-connect uri . args)
  (let-values (((extensions flags options) (connect-arguments 'ws-connect args)))
    (let ((policy (retry-policy 'ws-connect (get-keyword retry: options (lambda () #f)))))
      (if policy
          (connect-retrying uri extensions flags options policy #f)
          (apply connect-with-options uri extensions flags options)))))

;; ws-connect's arguments after URI: (values extensions flags keywords),
;; the keywords checked.
(define (connect-arguments loc args)
  (define (positional args)             ; (values the-list rest)
    (if (and (pair? args) (not (keyword? (car args))))
        (values (car args) (cdr args))
        (values '() args)))
  (let*-values (((extensions args) (positional args))
                ((flags options) (positional args)))
    (let check ((l options))
      (cond ((null? l))
            ((not (and (keyword? (car l)) (memq (car l) connect-keywords)))
             (ws-exn loc
                     (if (keyword? (car l)) "unknown keyword argument" "expected a keyword argument")
                     (list (car l))))
            ((null? (cdr l)) (ws-exn loc "keyword argument without a value" (list (car l))))
            (else (check (cddr l)))))
    (values extensions flags options)))

(define connect-keywords
  '(headers: origin: subprotocols: max-message-size: max-frame-size:
    connect-timeout: handshake-timeout: close-timeout: read-timeout: write-timeout:
    ping-interval: ping-timeout: send-queue-limit:
    max-redirects: fragment-size: compression-level:
    tls-ca-file: tls-ca-dir: tls-client-cert: tls-client-key: tls-insecure: auto-pong:
    proxy: env-proxy: retry:
    trace: tls-keylog-file: tls-keylog-env:))

;; The default of read-timeout:, write-timeout: and connect-timeout: is
;; CHICKEN's (tcp-read-timeout), (tcp-write-timeout) and (tcp-connect-timeout)
;; at the time of ws-connect, as for ws-client 1.0's tcp ports; #f (or 0)
;; given is none. An unset (tcp-connect-timeout) (#f, its default) leaves
;; libwsclient's 30 s: no limit at all would leave a ws-connect whose SYNs
;; are dropped waiting for minutes (the kernel's retries).
(define not-given (list 'not-given))

(define (tcp-default x param)
  (if (eq? x not-given) (param) x))

(define (connect-with-options uri extensions flags
                              #!key (headers '()) origin (subprotocols '())
                              max-message-size max-frame-size
                              (connect-timeout not-given) (handshake-timeout 30000) close-timeout
                              (read-timeout not-given) (write-timeout not-given)
                              ping-interval ping-timeout
                              send-queue-limit
                              max-redirects fragment-size compression-level
                              tls-ca-file tls-ca-dir tls-client-cert tls-client-key
                              tls-insecure (auto-pong #t) proxy env-proxy
                              retry             ; see ws-connect
                              trace tls-keylog-file tls-keylog-env)
  (define loc 'ws-connect)
  (define (ok rc) (check-rc loc rc))
  (define (str x what) (c-string-arg loc x what))
  (define (timeout x what)              ; #f: none
    (let ((t (ms loc x what))) (and (> t 0) t)))
  (define read-ms (timeout (tcp-default read-timeout tcp-read-timeout) "read-timeout"))
  (define write-ms (timeout (tcp-default write-timeout tcp-write-timeout) "write-timeout"))
  (define connect-ms
    (ms loc (let ((t (tcp-default connect-timeout tcp-connect-timeout)))
              (if (and (eq? connect-timeout not-given) (not t)) 30000 t))
        "connect-timeout"))
  (define close-ms (timeout close-timeout "close-timeout"))
  (define (size x what)
    (unless (and (exact? x) (integer? x) (>= x 0))
      (ws-exn loc (string-append what " must be a non-negative integer") (list x)))
    x)
  ;; A size limit: an integer, or +inf.0 for none (the largest value);
  ;; more than the largest value is none as well.
  (define (limit x what largest)
    (if (and (flonum? x) (= x +inf.0))
        largest
        (min (size x (string-append what " (or +inf.0)")) largest)))
  (define (configure opts)
    (for-each
     (lambda (e)
       (check-type loc ws-extension? e "a list of extensions, e.g. (permessage-deflate ...)")
       (for-each (lambda (o) (ok (%options-add-deflate-offer opts o))) (extension-offers e)))
     extensions)
    (for-each
     (lambda (f)
       (case f
         ((strip-host) (ok (%options-set-strip-host opts #t)))
         (else (ws-exn loc "unsupported flag (supported: strip-host)" (list f)))))
     flags)
    (check-type loc list? headers "an alist of header names and values")
    (for-each
     (lambda (h)
       (check-type loc pair? h "(name . value) header pairs")
       (ok (%options-add-header opts
                                (str (if (symbol? (car h)) (symbol->string (car h)) (car h))
                                     "header name")
                                (str (cdr h) "header value"))))
     headers)
    (when origin (ok (%options-set-origin opts (str origin "origin"))))
    (check-type loc list? subprotocols "a list of subprotocol strings")
    (for-each (lambda (p) (ok (%options-add-subprotocol opts (str p "subprotocol"))))
              subprotocols)
    (when max-message-size
      (ok (%options-set-max-message-size
           opts (limit max-message-size "max-message-size" size-max))))
    (when max-frame-size
      (ok (%options-set-max-frame-size
           opts (limit max-frame-size "max-frame-size" uint64-max))))
    (ok (%options-set-timeouts opts
                               connect-ms
                               (ms loc handshake-timeout "handshake-timeout")
                               0 0))
    (when close-timeout
      (ok (%options-set-close-timeout opts (ms loc close-timeout "close-timeout"))))
    (when (or ping-interval ping-timeout)
      (ok (%options-set-keepalive opts (ms loc ping-interval "ping-interval")
                                  (ms loc (or ping-timeout ping-interval) "ping-timeout"))))
    (when send-queue-limit
      (ok (%options-set-send-queue-limit opts (size send-queue-limit "send-queue-limit"))))
    (when max-redirects
      (ok (%options-set-max-redirects opts (size max-redirects "max-redirects"))))
    (when fragment-size
      (ok (%options-set-fragment-size opts (size fragment-size "fragment-size"))))
    (when compression-level
      (check-range loc compression-level -1 9 "compression-level")
      (ok (%options-set-compression-level opts compression-level)))
    (when tls-ca-file (ok (%options-set-tls-ca-file opts (str tls-ca-file "tls-ca-file"))))
    (when tls-ca-dir (ok (%options-set-tls-ca-dir opts (str tls-ca-dir "tls-ca-dir"))))
    (when tls-client-cert
      (ok (%options-set-tls-client-cert opts (str tls-client-cert "tls-client-cert")
                                        (and tls-client-key (str tls-client-key "tls-client-key")))))
    (when tls-insecure (ok (%options-set-tls-danger-accept-invalid-certs opts #t)))
    (unless auto-pong (ok (%options-set-auto-pong opts #f)))
    (when proxy (ok (%options-set-proxy opts (str proxy "proxy"))))
    (when env-proxy (ok (%options-use-env-proxy opts #t)))
    (when tls-keylog-file
      (ok (%options-set-tls-keylog-file opts (str tls-keylog-file "tls-keylog-file"))))
    (when tls-keylog-env (ok (%options-set-tls-keylog-env opts #t))))
  ;; Start connecting (the options are read here, and only here). Until
  ;; it is open the record only guards the C connection: its finalizer
  ;; cancels the connect of a thread that never came back. `queue': the
  ;; trace events' (see "Trace events and counters"), or #f; the record
  ;; owns it, and frees it with the C connection.
  (define (start opts queue)
    (let-location ((p ws-conn* (address->pointer 0)))
      (let ((rc (%connect-start uri opts (location p))))
        (if (fx= rc ws-ok)
            (set-finalizer! (%make-ws-connection p uri #f #f 'closed #f #f
                                                 read-ms write-ms close-ms '()
                                                 (%conn-id p) trace queue '() #f)
                            finalize-connection!)
            ;; The condition made (the error detail read), the events.
            (handle-exceptions e
                (begin
                  (when queue
                    (let ((events (take-trace-events! queue)))
                      (%trace-queue-free queue)
                      (for-each trace events)))
                  (abort e))
              (raise-result loc rc (list uri)))))))
  (str uri "URI")
  (check-type loc list? extensions "a list of extensions")
  (check-type loc list? flags "a list of flags")
  (when trace (check-type loc procedure? trace "a procedure for trace:"))
  (let ((opts (%options-new)))
    (unless opts (ws-exn loc "cannot allocate options"))
    (open-connection loc
                     (dynamic-wind
                         void
                         (lambda ()
                           (configure opts)
                           (let ((queue (and trace
                                             (or (%trace-queue-new)
                                                 (ws-exn loc "cannot allocate the trace queue")))))
                             (when queue
                               (let ((rc (%options-set-trace opts queue)))
                                 (unless (fx= rc ws-ok)
                                   (%trace-queue-free queue)
                                   (raise-result loc rc))))
                             (start opts queue)))
                         (lambda () (%options-free opts)))
                     uri)))

;; Drive a connect begun by ws_connect_start to its end, waiting in the
;; scheduler between the steps (see "Waiting"): returns the open
;; connection `c', or the server's non-101 answer as a ws-response (the
;; C connection is then freed). Failures are raised as ws_connect's were,
;; after freeing the C connection.
(define (open-connection loc c uri)
  (define (step)                        ; (values rc response-or-#f)
    ;; NULL first: `resp' is written on WS_HTTP_RESPONSE and some WS_ERR_PROXY.
    (let-location ((resp ws-resp* (address->pointer 0)))
      (let ((rc (%connect-continue c (location resp))))
        (values rc resp))))
  (handle-exceptions e
      (begin (release! c) (abort e))
    (let loop ()
      (let-values (((rc resp) (step)))
        (cond ((fx= rc ws-err-would-block)
               (deliver-trace! c)
               (await c (wants? c ws-want-read) #f)
               (loop))
              ((fx= rc ws-ok)           ; open, in non-blocking mode
               (let ((p (conn-ptr c)))
                 (conn-compression-set! c (%conn-compression* p))
                 (conn-subprotocol-set! c (%conn-subprotocol* p))
                 (deliver-trace! c)
                 c))
              ((fx= rc ws-http-response)
               (release! c)
               (wrap-response resp))
              ((and (fx= rc ws-err-proxy) resp)
               ;; The proxy's answer (e.g. 407) goes with the condition.
               (let-values (((msg _) (error-detail rc)))
                 (abort
                  (make-composite-condition
                   (make-property-condition 'exn 'location loc 'message msg 'arguments (list uri))
                   (make-property-condition 'websocket 'message msg 'code rc
                                            'response (wrap-response resp))))))
              (else (raise-result loc rc (list uri))))))))

;;; ------------------------------------------------------------------
;;; Reconnecting
;;;
;;; The policy of Python's websockets 17, which the Python binding
;;; follows too: delays in a truncated exponential series with jitter
;;; (a random delay up to `initial' first, RFC 6455 7.2.3; then `min',
;;; times `factor' after each attempt, up to `max'), its defaults and its
;;; WEBSOCKETS_BACKOFF_* variables (seconds), which our WSCLIENT_BACKOFF_*
;;; override; and which failures are worth another attempt
;;; (`ws-retryable?').

(define ws-err-tls-verify (foreign-value "WS_ERR_TLS_VERIFY" integer32))
(define ws-err-handshake (foreign-value "WS_ERR_HANDSHAKE" integer32))

;; HTTP answers worth another attempt: server and gateway errors that pass.
(define retry-statuses '(500 502 503 504))
;; Close codes of a server going away, failing, restarting, overloaded,
;; or a bad gateway.
(define transient-close-codes '(1001 1011 1012 1013 1014))

(define-record-type ws-retry-policy
  (%make-ws-retry-policy initial min max factor retry?)
  ws-retry-policy?
  (initial policy-initial)              ; milliseconds
  (min policy-min)
  (max policy-max)
  (factor policy-factor)
  (retry? policy-retry?))

(define-record-printer (ws-retry-policy p out)
  (fprintf out "#<ws-retry-policy ~A ~A x~A ~A ms>"
           (policy-initial p) (policy-min p) (policy-factor p) (policy-max p)))

;; BACKOFF_NAME from the environment, in seconds (WSCLIENT_, else
;; WEBSOCKETS_; an empty variable counts as unset), or #f.
(define (backoff-variable name)
  (let loop ((prefixes '("WSCLIENT_BACKOFF_" "WEBSOCKETS_BACKOFF_")))
    (and (pair? prefixes)
         (let* ((variable (string-append (car prefixes) name))
                (raw (get-environment-variable variable)))
           (if (or (not raw) (string=? raw ""))
               (loop (cdr prefixes))
               (let ((x (string->number raw)))
                 (unless (and x (real? x) (>= x 0) (< x 1e12))
                   (ws-exn 'make-ws-retry-policy
                           (string-append variable " must be a number >= 0")
                           (list raw)))
                 x))))))

(define (make-ws-retry-policy #!key initial-delay min-delay max-delay factor
                              (retry? ws-retryable?))
  (define (setting x name default scale)
    (let ((v (or x (let ((e (backoff-variable name))) (and e (* e scale))) default)))
      (unless (and (real? v) (>= v 0) (< v 1e15))
        (ws-exn 'make-ws-retry-policy
                (string-append (string-downcase* name) " must be a number >= 0")
                (list v)))
      v))
  (check-type 'make-ws-retry-policy procedure? retry? "a procedure for retry?:")
  (%make-ws-retry-policy (setting initial-delay "INITIAL_DELAY" 5000 1000)
                         (setting min-delay "MIN_DELAY" 3100 1000)
                         (setting max-delay "MAX_DELAY" 90000 1000)
                         (setting factor "FACTOR" 1.618 1)
                         retry?))

;; retry: of ws-connect and ws-reconnect-loop: #f, #t (a default policy,
;; the environment read now) or a policy.
(define (retry-policy loc x)
  (cond ((not x) #f)
        ((eq? x #t) (make-ws-retry-policy))
        ((ws-retry-policy? x) x)
        (else (ws-exn loc "retry: must be #f, #t or a ws-retry-policy" (list x)))))

;; A thunk giving the delays of a new series, in milliseconds.
(define (backoff-delays p)
  (let ((started #f)
        (d (policy-min p)))
    (lambda ()
      (cond ((not started)
             (set! started #t)
             (* (pseudo-random-real) (policy-initial p)))
            ((< d (policy-max p))
             (let ((x d))
               (set! d (* d (policy-factor p)))
               x))
            (else (policy-max p))))))

;; Let other green threads run for `ms' milliseconds.
(define (sleep-ms ms)
  (let ((t (inexact->exact (round ms))))
    (when (> t 0) (wait-fd -1 #f t))))

;; The default of retry?: whether X, what a connect or a connection ended
;; with, is worth another attempt.
(define (ws-retryable? x)
  (cond ((ws-response? x)
         (and (response-ptr x) (memv (ws-response-status x) retry-statuses) #t))
        ((ws-connection? x)
         (and (eq? (ws-connection-state x) 'closed)
              (memv (ws-connection-close-code x) transient-close-codes)
              #t))
        ((condition? x)
         (let ((code (and ((condition-predicate 'websocket) x)
                          (get-condition-property x 'websocket 'code #f))))
           (cond ((not code) #f)
                 ((fx= code ws-err-tls-verify) #f)
                 (((condition-predicate 'net) x) #t)
                 ;; The server closed TCP before its answer: a network error
                 ;; (the library reports it as a handshake error).
                 ((fx= code ws-err-handshake)
                  (equal? (get-condition-property x 'websocket 'message #f)
                          "the server closed the connection during the handshake"))
                 (else #f))))
        (else #f)))

;; ws-connect with a policy: failed attempts that (retry? failure) are
;; made again after the next delay of `delays' (a series from
;; backoff-delays, or #f to start one). Returns the connection or the
;; ws-response no longer retried; raises the conditions not retried.
(define (connect-retrying uri extensions flags options policy delays)
  (let ((retry? (policy-retry? policy)))
    (let loop ((delays delays))
      (let ((r (handle-exceptions e
                   (if (retry? e) e (abort e))
                 (apply connect-with-options uri extensions flags options))))
        (if (or (ws-connection? r) (and (ws-response? r) (not (retry? r))))
            r
            (let ((delays (or delays (backoff-delays policy))))
              (when (ws-response? r) (free-response! r))
              (sleep-ms (delays))
              (loop delays)))))))

;; Close `c' whatever its state, errors ignored: the close handshake when
;; it is open (the server's answer within the close timeout), then free it.
(define (close-quietly c)
  (handle-exceptions e (void)
    (when (and (conn-ptr c) (eq? (ws-connection-state c) 'open))
      (ws-close c))
    (let loop ()
      (when (and (conn-ptr c) (recv-message c))
        (loop))))
  (release! c))

;; (ws-reconnect-loop URI HANDLER [EXTENSIONS [FLAGS]] #!key retry ...):
;; connect (retrying failed attempts as ws-connect's retry: does; default
;; #t), call (HANDLER connection), and connect again when the connection
;; ended in a way worth another attempt: HANDLER raised a condition that
;; (retry? condition) (a lost connection, a timeout), or returned after the
;; server closed with a code that (retry? connection) (1001, 1011, 1012,
;; 1013, 1014). Such a reconnect waits the first delay of a new series.
;; Otherwise returns what HANDLER returned (the connection closed), or
;; raises what it raised; or returns the ws-response of a connect no longer
;; retried.
(define (ws-reconnect-loop uri handler . args)
  (check-type 'ws-reconnect-loop procedure? handler "a procedure")
  (let*-values (((extensions flags options) (connect-arguments 'ws-reconnect-loop args))
                ((policy) (retry-policy 'ws-reconnect-loop
                                        (get-keyword retry: options (lambda () #t)))))
    (unless policy
      (ws-exn 'ws-reconnect-loop "retry: must be #t or a ws-retry-policy" (list #f)))
    (let loop ((delays #f))
      (let ((c (connect-retrying uri extensions flags options policy delays)))
        (if (ws-response? c)
            c
            (let* ((done #f)
                   (outcome
                    (dynamic-wind
                        void
                        (lambda ()
                          (let ((r (handle-exceptions e
                                       (cons 'raised e)
                                     (cons 'returned (handler c)))))
                            (set! done #t)
                            r))
                        ;; HANDLER escaped with a continuation.
                        (lambda () (unless done (close-quietly c)))))
                   (value (cdr outcome)))
              (cond ((if (eq? (car outcome) 'raised)
                         ((policy-retry? policy) value)
                         (and (eq? (ws-connection-state c) 'closed)
                              ((policy-retry? policy) c)))
                     (close-quietly c)
                     (let ((delays (backoff-delays policy)))
                       (sleep-ms (delays))
                       (loop delays)))
                    (else
                     (close-quietly c)
                     (if (eq? (car outcome) 'raised)
                         (abort value)
                         value)))))))))
