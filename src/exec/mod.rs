//! exec stage (OWNER: lead).
