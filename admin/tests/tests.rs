//! Integration tests: the real `gatehouse` binary end to end — approvals, and host registration under a temp root.

mod approvals;
mod install;
