"""OCR line images: text in random fonts over photo or generated backgrounds, with exact boxes."""
