pub mod opentracker;
