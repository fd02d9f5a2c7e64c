-- Pairing codes (issue 5; ADR-0010): a patient pairs a device with the one-time code that came
-- with it, not with the details on its label, which anyone who has seen the box can read. Only a
-- keyed HMAC of the code is stored (the keyring's blind index, bound to the device id); pairing
-- spends it, and an administrator issues a new one to pair the device again.
ALTER TABLE devices ADD COLUMN pairing_code_hash text;
