//! render stage (OWNER: lead).
