;;;; ws-client-libs.scm - a component for `csc -static' only.
;;;
;;; Its static object is not compiled from this file: build-ws-client
;;; writes it as a GNU ld script, INPUT(libwsclient.a -lssl -lcrypto -lz
;;; ...), and ws-client.link names it, so `csc -static' links a program that
;;; imports ws-client with libwsclient and its system libraries. This
;;; module (the shared build, which chicken-install also makes) is empty.

(module ws-client-libs ()
  (import scheme))
