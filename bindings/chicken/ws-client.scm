;;;; ws-client.scm - the ws-client egg's API over libwsclient's C ABI.
;;;
;;; The export list is the API of the egg ws-client 1.0 (lohkatsun/ws-client-egg 1.0),
;;; followed by what libwsclient adds (peer close code and reason,
;;; response records, connection state, trace events and counters). The
;;; implementation is in ws-client-impl.scm.

(module ws-client
    (;; establishing a connection
     ws-connect ws-connection? is-ws-connection?
     ;; messages
     ws-message? make-ws-message
     message-type message-data message-data* message-size message-frames
     recv-message recv-message-loop
     send-message send-text-message send-binary-message
     ;; closing
     ws-close
     ;; low-level interface
     make-ws-frame ws-frame? data-frame? control-frame?
     frame-fin frame-fin? frame-rsv frame-rsv-bit frame-opcode frame-optype
     frame-mask? frame-payload-length frame-payload-data
     recv-frame send-frame
     opcode->optype optype->opcode
     reason->close-code close-code->reason
     ;; permessage-deflate
     permessage-deflate ws-extension?

     ;; --- beyond ws-client 1.0 ---
     ;; the connection
     ws-connection-state ws-connection-uri ws-connection-compression?
     ws-connection-subprotocol ws-connection-header
     ws-connection-close-code ws-connection-close-reason
     ws-connection-queued-bytes ws-connection-free! ws-ping
     message-compressed?
     ;; messages in pieces, as they arrive
     recv-message-part recv-message-port
     ;; reconnecting
     make-ws-retry-policy ws-retry-policy? ws-retryable? ws-reconnect-loop
     ;; what a connection did: its trace events and counters
     ws-connection-id ws-connection-stat ws-connection-stats
     ws-trace-event? ws-trace-event-kind ws-trace-event-connection-id
     ws-trace-event-text ws-trace-event-fields ws-trace-event-field
     ;; the HTTP response of a handshake that did not switch protocols
     ws-response? ws-response-status ws-response-code ws-response-reason
     ws-response-headers ws-response-header ws-response-body ws-response-body*
     ;; the C library
     wsclient-version)

  (import scheme
          (chicken base)
          (chicken foreign)
          (chicken condition)
          (chicken gc)
          (chicken blob)
          (chicken memory)
          (chicken bitwise)
          (chicken fixnum)
          (chicken keyword)
          (chicken time)
          (only (chicken port) make-input-port set-port-name!)
          (chicken string)
          (chicken format)
          (only (chicken process-context) get-environment-variable)
          (only (chicken random) pseudo-random-real)
          ;; the defaults of the read, write and connect timeouts
          (only (chicken tcp) tcp-read-timeout tcp-write-timeout tcp-connect-timeout)
          srfi-4)

  ;; Thread switches only happen where we yield explicitly: a call and the
  ;; read of its thread-local error detail must not be separated by another
  ;; green thread's failing call.
  (declare (disable-interrupts)
           (uses scheduler))

  (foreign-declare "#include <wsclient.h>")

  (include "ws-client-impl.scm"))
