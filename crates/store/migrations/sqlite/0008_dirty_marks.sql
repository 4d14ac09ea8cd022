-- Every dirty mark also counts up `marks`. A job reads the count with its candidates; after it
-- records its decisions (which clear the mark) it marks again the orders whose count moved
-- meanwhile (see `Store::remark_changed`): a decision made on what was read before a pull or a
-- feed read changed the order never clears their mark, so the order is decided again next run
-- instead of sleeping a week on a stale view.
ALTER TABLE orders ADD COLUMN marks INTEGER NOT NULL DEFAULT 0;
