"""Bundle faults: each kind yields the broken bundle it names, for the collection's validator to reject."""

import io
import stat
import zipfile

import pytest
from conftest import Client
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization


@pytest.fixture(scope="module")
def setup(shared_emu):
    client = Client(shared_emu)
    rec = client.issued("faulty.example.com")
    client.assign(rec["id"], 1)
    other = client.issued("fine.example.com")
    client.assign(other["id"], 1)
    return client, rec["id"], other["id"]


def fetch(client, cid):
    r = client.get(f"/devices/1/certificates/{cid}/bundle")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    return r


def pem_parts(z):
    key = serialization.load_pem_private_key(z.read("private.key"), None)
    leaf = x509.load_pem_x509_certificate(z.read("certificate.pem"))
    chain = x509.load_pem_x509_certificates(z.read("chain.pem"))
    return key, leaf, chain


@pytest.fixture
def bundle(shared_emu, setup):
    client, cid, _other = setup
    yield lambda kind: (shared_emu.admin.add_bundle_fault(kind, certificate_id=cid, count=1), fetch(client, cid))[1]
    shared_emu.admin.clear_bundle_faults()
    assert zipfile.ZipFile(io.BytesIO(fetch(client, cid).content)).testzip() is None


def test_key_mismatch(bundle):
    key, leaf, _chain = pem_parts(zipfile.ZipFile(io.BytesIO(bundle("key_mismatch").content)))
    assert key.public_key().public_numbers() != leaf.public_key().public_numbers()


def test_traversal(bundle):
    names = zipfile.ZipFile(io.BytesIO(bundle("traversal").content)).namelist()
    assert any(n.startswith("../") for n in names)


def test_symlink(bundle):
    z = zipfile.ZipFile(io.BytesIO(bundle("symlink").content))
    info = z.getinfo("fullchain.pem")
    assert stat.S_ISLNK(info.external_attr >> 16) and z.read("fullchain.pem") == b"/etc/passwd"


def test_truncated(bundle):
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bundle("truncated").content))


def test_not_zip(bundle):
    r = bundle("not_zip")
    assert not zipfile.is_zipfile(io.BytesIO(r.content)) and b"<html>" in r.content


def test_expired_and_not_yet_valid(bundle):
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    key, leaf, chain = pem_parts(zipfile.ZipFile(io.BytesIO(bundle("expired").content)))
    assert leaf.not_valid_after_utc < now
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()
    leaf.verify_directly_issued_by(chain[0])
    key, leaf, chain = pem_parts(zipfile.ZipFile(io.BytesIO(bundle("not_yet_valid").content)))
    assert leaf.not_valid_before_utc > now
    leaf.verify_directly_issued_by(chain[0])


def test_missing_entry(bundle):
    names = zipfile.ZipFile(io.BytesIO(bundle("missing_entry").content)).namelist()
    assert "private.key" not in names and "certificate.pem" in names


def test_wrong_chain(bundle):
    _key, leaf, chain = pem_parts(zipfile.ZipFile(io.BytesIO(bundle("wrong_chain").content)))
    with pytest.raises((InvalidSignature, ValueError)):
        leaf.verify_directly_issued_by(chain[0])


def test_oversize_is_streamed(bundle):
    r = bundle("oversize")
    assert int(r.headers["Content-Length"]) > 60 * 1024 * 1024 == len(r.content) - (len(r.content) - 60 * 1024 * 1024)
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert z.getinfo("padding.bin").file_size == 60 * 1024 * 1024
    assert "private.key" in z.namelist()


def test_scoping_by_certificate_and_count(shared_emu, setup):
    client, cid, other = setup
    shared_emu.admin.add_bundle_fault("not_zip", certificate_id=cid, count=2)
    assert zipfile.is_zipfile(io.BytesIO(fetch(client, other).content))
    assert not zipfile.is_zipfile(io.BytesIO(fetch(client, cid).content))
    assert not zipfile.is_zipfile(io.BytesIO(fetch(client, cid).content))
    assert zipfile.is_zipfile(io.BytesIO(fetch(client, cid).content))
    shared_emu.admin.add_bundle_fault("not_zip")  # any certificate, until cleared
    for _i in range(3):
        assert not zipfile.is_zipfile(io.BytesIO(fetch(client, other).content))
    shared_emu.admin.clear_bundle_faults()
    assert zipfile.is_zipfile(io.BytesIO(fetch(client, other).content))
