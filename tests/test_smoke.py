def test_seeded_document_is_served(seeded_client):
    response = seeded_client.get("/api/v1/drugs/pomalidomide")

    assert response.status_code == 200
    assert response.json()["name"] == "Pomalidomide"
