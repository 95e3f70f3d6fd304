//! Plan: compare the input with what the server holds; decide create / update / deactivate / nothing.
