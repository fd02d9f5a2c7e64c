-- ADR-0036: a statement written for the common outcome (group commit of device writes: the
-- readings, their counts, outbox rows and audit entries in one autocommit statement) must fail as
-- a whole when the outcome is another. A CTE cannot roll its siblings back, but an error anywhere
-- in a statement undoes all of it: vigil_expect raises one, with its own SQLSTATE and the reason
-- as its message, when the condition it is given is false, and returns true otherwise.
CREATE FUNCTION vigil_expect(ok boolean, reason text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = 'VG001', MESSAGE = reason;
  END IF;
  RETURN true;
END
$$;
