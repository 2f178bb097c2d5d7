mod op_as_changeop;
pub(crate) use op_as_changeop::op_as_actor_id;

mod op_as_docop;
pub(crate) use op_as_docop::op_as_docop;
