;;;; tests/static-echo.scm - built by run-tests.sh with `csc -static' (no
;;;; extra link options: ws-client.link brings libwsclient.a and its
;;;; libraries). Echoes one message through the server at the URI given.
;;;;
;;;;   static-echo ws://127.0.0.1:PORT/

(import scheme (chicken base) (chicken process-context) ws-client)

(let ((c (ws-connect (car (command-line-arguments)))))
  (send-text-message c "static echo")
  (print (message-data (recv-message c)))
  (ws-close c)
  (print (recv-message c)))
